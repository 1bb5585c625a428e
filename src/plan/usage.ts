import type { Entry } from '../model/entry.js';
import { InputError } from '../model/errors.js';
import { printable } from '../model/address.js';
import type { Family } from '../model/address.js';
import type { Cache } from '../store/cache.js';
import { entryAddresses, setName } from './sets.js';

// Per-entry hit counters: the kernel counts the packets each whitelist set member matched
// (sets made with `counters`); tm3 notes when a count last grew. A count can only tell "used
// since the last look", so "last used" is as fine as the looks: every tm3 refresh (10 minutes)
// and every `tm3 list --stale`. A count that went down (a reboot reloads the sets at 0) starts over.

export interface Usage {
  /** when tm3 first saw counters on this box: nothing before it is known */
  since: string;
  /** "SET CIDR" -> the count at the last look and when it last grew */
  members: Record<string, { packets: number; usedAt: string | null }>;
}

export type Counts = Map<string, Map<string, { packets: number }>>;

/** The usage record after one more look at the kernel's counters. Pure. */
export function observe(prev: Usage | undefined, counts: Counts, now: string): Usage {
  const members: Usage['members'] = {};
  for (const [set, m] of counts) {
    for (const [cidr, { packets }] of m) {
      const key = `${set} ${cidr}`;
      const old = prev?.members[key];
      // first seen with a count: used at some point up to now, so not stale yet
      const grew = old ? packets > old.packets || (packets < old.packets && packets > 0) : packets > 0;
      members[key] = { packets, usedAt: grew ? now : old?.usedAt ?? null };
    }
  }
  return { since: prev?.since ?? now, members };
}

export interface EntryUse {
  name: string; target: string; services: string[]; source: string; added: string;
  /** the last look that saw a packet from it; null: none since `quietSince` */
  lastUsed: string | null;
  /** since when nothing is known to have used it (its added time, or when counting began) */
  quietSince: string;
  /** false: none of its sets has counters yet (an older tm3 made them) */
  counted: boolean;
}

/** When each entry was last used, over every address and service it stands for. */
export function entryUse(entries: Entry[], cache: Cache, usage: Usage): EntryUse[] {
  return entries.map((e) => {
    const keys = entryAddresses(e, cache).flatMap((cidr) => e.services.map((svc) => `${setName(svc, (cidr.includes(':') ? 6 : 4) as Family)} ${cidr}`));
    const seen = keys.map((k) => usage.members[k]).filter(Boolean);
    const used = seen.map((s) => s.usedAt).filter((t): t is string => Boolean(t)).sort().pop() ?? null;
    const added = Date.parse(e.added);
    const quietSince = !Number.isNaN(added) && added > Date.parse(usage.since) ? e.added : usage.since;
    return { name: e.name, target: e.address?.cidr ?? e.host!, services: e.services, source: e.source, added: e.added, lastUsed: used, quietSince, counted: seen.length > 0 || keys.length === 0 };
  });
}

/** Entries no packet has used for `seconds` (and that have existed, counted, that long). */
export function staleEntries(uses: EntryUse[], now: number, seconds: number): EntryUse[] {
  return uses.filter((u) => u.counted && now - Date.parse(u.lastUsed ?? u.quietSince) >= seconds * 1000);
}

/** "30d", "12h", "2w", or days alone ("30"): seconds. */
export function parseAge(text: string): number {
  const m = /^([1-9][0-9]{0,4})([hdw]?)$/.exec(String(text).trim().toLowerCase());
  if (!m) throw new InputError(`--stale '${printable(text)}' is not an age`, 'write days, weeks or hours, e.g. --stale 30d, 2w or 12h');
  return Number(m[1]) * { h: 3600, d: 86_400, w: 604_800, '': 86_400 }[m[2] as 'h' | 'd' | 'w' | ''];
}
