// Many entries at once, for the scale test and the benchmarks: files written directly,
// in the same INI form add-ip writes, with addresses from 2001:db8:100::/48.
import fs from 'node:fs';
import path from 'node:path';

export const bulkAddress = (i: number) => `2001:db8:100::${(i + 1).toString(16)}`;

export function writeBulkEntries(root: string, count: number, services = 'sip'): void {
  const dir = path.join(root, 'root');
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    fs.writeFileSync(path.join(dir, `bulk-${i}.iptables`), `[entry]\naddress=${bulkAddress(i)}/128\nservices=${services}\nsource=admin\nadded=2026-01-01T00:00:00.000Z\n`);
  }
}

/** The original's way: one iptables -A per entry, as its iptables-custom did. */
export function originalScript(count: number): string {
  const lines = ['ip6tables -w -P INPUT DROP'];
  for (let i = 0; i < count; i++) lines.push(`ip6tables -w -A INPUT -s ${bulkAddress(i)} -j ACCEPT`);
  return `${lines.join('\n')}\n`;
}

/** FQDN entries, one per name, as add-fqdn writes them. */
export function writeHostEntries(root: string, hosts: string[], services = 'sip'): void {
  const dir = path.join(root, 'root');
  fs.mkdirSync(dir, { recursive: true });
  hosts.forEach((host, i) => {
    fs.writeFileSync(path.join(dir, `host-${i}.iptables`), `[entry]\nhost=${host}\nservices=${services}\nsource=admin\nadded=2026-01-01T00:00:00.000Z\n`);
  });
}
