// The legacy /etc/knockd.conf: [opencloseALL] with a sequence and iptables start/stop commands.
import { parseSequence } from '../model/knock.js';

export interface LegacyKnock { sequence?: number[]; grantSeconds?: number; notes: string[] }

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
    return { sequence, grantSeconds: Number.isInteger(timeout) && timeout > 0 ? timeout : undefined, notes };
  } catch {
    return { notes: [...notes, `knock sequence '${first.keys.sequence}' is not three distinct TCP ports from 1024 to 65535; knockd is left as it is and tm3's knocking is off`] };
  }
}
