// The original's /root/NAME.iptables files: "<address-or-fqdn> <last-ip>", sometimes blank.
import { parseNet } from '../model/address.js';
import { NAME_RE } from '../model/name.js';
import { parseSource } from './rule.js';
import type { Findings } from './findings.js';

const PLACEHOLDER = '1.1.1.1';

/** True for tm3's own INI entry files, which are not legacy. */
export const isTm3Entry = (text: string) => /^\s*\[entry\]|^\s*(address|host)\s*=/m.test(text);

export function readLegacyEntry(name: string, text: string, file: string, into: Findings): void {
  const where = file;
  if (!NAME_RE.test(name)) {
    into.notes.push({ where, text: `the name ${name} is not allowed in tm3; rename the file to letters, digits, . _ -`, level: 'unknown' });
    return;
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) {
    // The original add-ip bug: an empty file. Its entry block in the rules file has the address.
    into.sightings.push({ name, kind: 'file', scope: [], where });
    return;
  }
  const [target, last, ...extra] = lines[0].split(/\s+/);
  // Later originals (add-ip 2.2U, iptables-knock) write this placeholder and keep the real
  // address only in the entry block of iptables-custom: a blank file, never 1.1.1.1 itself.
  if (target === PLACEHOLDER && (last === undefined || last === PLACEHOLDER) && !extra.length && lines.length === 1) {
    into.sightings.push({ name, kind: 'file', scope: [], where });
    return;
  }
  const source = parseSource(target);
  if (lines.length > 1 || extra.length || !source || source === 'anywhere' || source === 'wide') {
    into.notes.push({ where, text: `not understood: '${lines.join(' / ').slice(0, 80)}' (expected '<address-or-fqdn> [<last-ip>]')`, level: 'unknown' });
    return;
  }
  let lastIp;
  try { lastIp = last ? parseNet(last, { what: 'last-ip' }) : undefined; } catch { into.notes.push({ where, text: `last-ip '${last}' ignored: not an address`, level: 'unknown' }); }
  // Scope 'all' only when no entry block narrows it: see plan.ts.
  into.sightings.push({ name, kind: 'file', source, scope: [], lastIp, where });
}
