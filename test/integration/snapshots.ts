// What "changed nothing" means in the fault tests: the kernel's sets and filter rules, and the
// files tm3 keeps, compared as text before and after.
import fs from 'node:fs';
import path from 'node:path';
import type { Lab } from '../../src/lab/lab.js';

/** ipset save plus iptables-save/ip6tables-save of the filter table, without counters or comments. */
export async function kernelSnapshot(lab: Lab): Promise<string> {
  const sets = await lab.exec(lab.server.ns, 'ipset', ['save']);
  const v4 = await lab.exec(lab.server.ns, 'iptables-save', ['-t', 'filter']);
  const v6 = await lab.exec(lab.server.ns, 'ip6tables-save', ['-t', 'filter']);
  const strip = (s: string) => s.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
  // a timed member (a knock grant) counts its timeout down: only its presence is state
  // and a set's hash seed (initval) is new each time a swap recreates it: not state either
  // and a whitelist member's hit counters count what passed: not state
  const members = sets.stdout.replace(/^(add \S+ \S+) timeout \d+/gm, '$1').replace(/ initval 0x[0-9a-f]+/g, '').replace(/ packets \d+ bytes \d+/g, '');
  // a hash set lists its members in hash order, which a reload may change: sorted, the content is the state
  return [members.split('\n').sort().join('\n'), strip(v4.stdout), strip(v6.stdout)].join('\n---\n');
}

/** Every file (name and bytes) in the given directories under the lab root; the store by default. */
export function storeSnapshot(lab: Lab, dirs = ['root']): string {
  return dirs.flatMap((d) => {
    const dir = path.join(lab.root, d);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).sort().filter((f) => fs.statSync(path.join(dir, f)).isFile()).map((f) => `${d}/${f}:${fs.readFileSync(path.join(dir, f), 'utf8')}`);
  }).join('\n');
}
