// The legacy /etc/knockd.conf: [opencloseALL] with a sequence and iptables start/stop commands.
import { parseSequence } from '../model/knock.js';

export interface LegacyKnock { sequence?: number[]; grantSeconds?: number; notes: string[]; stock?: boolean; permanent?: boolean }

// Permanent mode in the original: the knock's command makes a whitelist entry (iptables-knock
// %IP%, add-ip, or a write into /root/NAME.iptables) instead of a timed rule.
const PERMANENT = /iptables-knock\b|\badd-ip\b|\.iptables\b/;

// The sequences of the example knockd.conf that Debian's knockd package installs (and every
// knockd tutorial prints): published for everyone, so never a legacy box's secret.
const TEXTBOOK = new Set(['7000,8000,9000', '9000,8000,7000', '12345,54321,24680,13579']);
const tcpPorts = (seq: string) => seq.split(',').map((p) => p.trim().replace(/:tcp$/i, '')).join(',');

/**
 * Is this the package's own example rather than the admin's? `packageMd5` is the conffile's
 * checksum from dpkg-query, when dpkg knows it; a file whose every sequence is a textbook one
 * is treated the same even when edited (a changed comment does not make a code secret).
 */
export function stockKnockd(text: string, md5: string, packageMd5?: string): boolean {
  if (packageMd5 && md5 === packageMd5) return true;
  const seqs = [...text.matchAll(/^\s*sequence\s*=\s*(\S+)/gim)].map((m) => tcpPorts(m[1]));
  return seqs.length > 0 && seqs.every((s) => TEXTBOOK.has(s));
}

/** The first section with a sequence; its ports must survive migration unchanged. */
export function readLegacyKnockd(text: string): LegacyKnock {
  const sections: { name: string; keys: Record<string, string> }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const head = /^\[(.+)\]$/.exec(line);
    if (head) sections.push({ name: head[1], keys: {} });
    else if (sections.length && /=/.test(line) && !line.startsWith('#')) {
      const [k, ...v] = line.split('=');
      sections[sections.length - 1].keys[k.trim().toLowerCase()] = v.join('=').trim();
    }
  }
  const knocks = sections.filter((s) => s.keys.sequence);
  const notes = knocks.slice(1).map((s) => `knockd section [${s.name}] not carried over: tm3 runs one sequence`);
  const first = knocks[0];
  if (!first) return { notes: ['no knock sequence found'] };
  const ports = first.keys.sequence.split(',').map((p) => p.trim());
  const tcp = ports.map((p) => /^([0-9]+)(?::tcp)?$/i.exec(p)?.[1]);
  try {
    if (tcp.some((p) => p === undefined)) throw new Error('udp knocks');
    const sequence = parseSequence(tcp.join(','));
    const timeout = Number(first.keys.cmd_timeout);
    const command = [first.keys.start_command, first.keys.command].filter(Boolean).join(' ');
    return { sequence, grantSeconds: Number.isInteger(timeout) && timeout > 0 ? timeout : undefined, notes, permanent: PERMANENT.test(command) };
  } catch {
    return { notes: [...notes, `knock sequence '${first.keys.sequence}' is not three distinct TCP ports from 1024 to 65535; knockd is left as it is and tm3's knocking is off`] };
  }
}

/**
 * The address the old knock.FAQ told users to knock on: the installer's public address, often
 * not any interface's (a box behind NAT). Undefined when the card names none.
 */
export function readKnockFaq(text: string): string | undefined {
  const m = /Knock ports for access to (\S+) set to/.exec(text) ?? /nmap\s.*-p\s+\d+\s+(\S+)/.exec(text);
  return m?.[1];
}
