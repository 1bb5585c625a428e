// The legacy /etc/knockd.conf: [opencloseALL] with a sequence and iptables start/stop commands.
import { parseSequence } from '../model/knock.js';
import { ALL } from '../model/services.js';
import { words } from './tokens.js';
import { interpret } from './rule.js';
import type { Scope } from './ports.js';

export interface LegacyKnock { sequence?: number[]; grantSeconds?: number; notes: string[]; stock?: boolean; permanent?: boolean; /** the ports the knock opened ('all' when the whole box) */ scope?: Scope }

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
    const command = first.keys.start_command ?? first.keys.command ?? '';
    const permanent = PERMANENT.test(command);
    const scope = permanent ? ALL : knockScope(command);
    // a sequence that only logs, or opens nothing for the knocker, opened nothing on the legacy box
    if (!scope) return { notes: [...notes, `knock sequence '${first.keys.sequence}' of [${first.name}] does not open the firewall for the knocker (its command: ${command.slice(0, 100) || 'none'}): not carried over; tm3's knocking is off`] };
    return { sequence, grantSeconds: Number.isInteger(timeout) && timeout > 0 ? timeout : undefined, notes, permanent, scope };
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

/** What an "iptables -A|-I INPUT ... -s %IP% ... -j ACCEPT" command opens, or undefined. */
function knockScope(command: string): Scope | undefined {
  const w = words(command.replaceAll('%IP%', '203.0.113.254'));
  if (!w || !/(^|\/)ip6?tables$/.test(w[0] ?? '')) return undefined;
  const rest = w.slice(1).filter((x) => x !== '-w' && x !== '--wait');
  const at = rest.findIndex((x) => x === '-A' || x === '--append' || x === '-I' || x === '--insert');
  if (at < 0 || rest[at + 1] !== 'INPUT') return undefined;
  const args = rest.slice(at + 2);
  if (/^[0-9]+$/.test(args[0] ?? '')) args.shift();
  const m = interpret(args);
  return m.kind === 'whitelist' && 'address' in m.source && m.source.address.address === '203.0.113.254' ? m.scope : undefined;
}
