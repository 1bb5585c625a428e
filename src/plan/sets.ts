import type { Config } from '../store/config.js';
import type { Cache } from '../store/cache.js';
import type { Entry } from '../model/entry.js';
import type { Family } from '../model/address.js';
import { ALL } from '../model/services.js';

/**
 * A whitelist set, or a timed one (knock grants, Fail2Ban bans): timed sets are created when
 * missing and never swapped; their members carry their own timeouts and the kernel expires them.
 */
export interface SetPlan { name: string; family: Family; members: string[]; timed?: boolean; timeout?: number; union?: boolean }

export const SET_PREFIX = 'tm3-';
export const setName = (service: string, family: Family) => `${SET_PREFIX}${service}-${family}`;
/** ipset create options; constant so that a saved file, the kernel and a side set always agree. */
export const setOptions = (s: Pick<SetPlan, 'family' | 'timed' | 'timeout' | 'union'>) =>
  s.timed ? `hash:ip family ${s.family === 4 ? 'inet' : 'inet6'} hashsize 1024 maxelem 65536 timeout ${s.timeout ?? 0}`
    : `hash:net family ${s.family === 4 ? 'inet' : 'inet6'} hashsize 1024 maxelem 1048576${s.union ? '' : ' counters'}`;
export const KNOCK = 'knock';
/**
 * Every address any whitelist set holds, one set per family: a stranger's packet leaves the
 * whitelist chain after this one lookup instead of one per service its port matches. Without
 * counters: the per-service sets count each entry's use.
 */
export const KNOWN = 'known';
export const isUnionSet = (name: string) => name === setName(KNOWN, 4) || name === setName(KNOWN, 6);
/**
 * Every address holding a live knock grant (the site's or a person's), one timed set per family:
 * the stranger's shortcut tests it beside tm3-known, so the grant rules sit after that shortcut
 * and a stranger never walks them. It is only a filter: the grant sets still decide, so a
 * member it lacks fails closed and one it keeps too long opens nothing. Every grant path adds
 * to it with the set's own timeout, [knock] grant_seconds, the longest any grant can be, so a
 * shorter grant renewing the member never ends it before a longer grant of another set.
 */
export const GRANTED = 'granted';
export const isGrantUnion = (name: string) => name === setName(GRANTED, 4) || name === setName(GRANTED, 6);
/** Fail2Ban's bans: filled by the tm3-ipset banaction, matched ahead of everything but loopback. */
export const BAN = 'ban';

/** Service names in rule order: 'all' first, then the catalog. */
export const serviceNames = (config: Config) => [ALL, ...config.catalog.keys()];

/**
 * People's grants: one timed set per service a person may be given (tm3-knock-SVC-4/6), each
 * matched for that service only, so a grant reaches exactly the person's services and the rules
 * stay one per service, however many people there are. The site knock keeps tm3-knock-4/6.
 */
export const personSetName = (service: string, family: Family) => setName(`${KNOCK}-${service}`, family);
export const personServices = (config: Config) => (config.knock.services.includes(ALL) ? serviceNames(config) : config.knock.services);
/** A timed knock set, the site's or a person-service one (what `tm3 knock revoke` and the grant listings read). */
export const KNOCK_SET_RE = /^tm3-knock-(?:[a-z][a-z0-9-]*-)?[46]$/;

/** The addresses an entry stands for right now: its own, or its name's last good answer. */
export function entryAddresses(entry: Entry, cache: Cache): string[] {
  if (entry.address) return [entry.address.cidr];
  const rec = entry.host ? cache[entry.host] : undefined;
  const fam = (cidrs: string[]) => (entry.family ? cidrs.filter((c) => c.includes(':') === (entry.family === 6)) : cidrs);
  if (rec && rec.v4.length + rec.v6.length > 0) return fam([...rec.v4, ...rec.v6]);
  // never answered yet (only failed lookups cached): the legacy file's last-ip is the last good one
  return entry.lastIp ? fam([entry.lastIp.cidr]) : [];
}

/** Every set for every service and family, empty ones too, because the rules refer to them all. */
export function planSets(config: Config, entries: Entry[], cache: Cache): SetPlan[] {
  const members = new Map<string, Set<string>>();
  // each service's two sets, looked up once: not a set name built per entry, address and service
  const bySvc = new Map<string, [Set<string>, Set<string>]>();
  for (const svc of serviceNames(config)) {
    const pair: [Set<string>, Set<string>] = [new Set(), new Set()];
    members.set(setName(svc, 4), pair[0]);
    members.set(setName(svc, 6), pair[1]);
    bySvc.set(svc, pair);
  }
  for (const entry of entries) {
    for (const cidr of entryAddresses(entry, cache)) {
      const six = cidr.includes(':') ? 1 : 0;
      for (const svc of entry.services) bySvc.get(svc)?.[six].add(cidr);
    }
  }
  const sets: SetPlan[] = [...members].map(([name, m]) => ({ name, family: name.endsWith('-6') ? 6 : 4, members: [...m].sort() }));
  for (const fam of [4, 6] as Family[]) {
    const union = new Set<string>();
    for (const s of sets) if (s.family === fam) for (const m of s.members) union.add(m);
    sets.push({ name: setName(KNOWN, fam), family: fam, members: [...union].sort(), union: true });
  }
  if (config.knock.enabled) {
    for (const fam of [4, 6] as Family[]) sets.push({ name: setName(KNOCK, fam), family: fam, members: [], timed: true, timeout: config.knock.grantSeconds });
    for (const svc of personServices(config)) for (const fam of [4, 6] as Family[]) sets.push({ name: personSetName(svc, fam), family: fam, members: [], timed: true, timeout: config.knock.grantSeconds });
    for (const fam of [4, 6] as Family[]) sets.push({ name: setName(GRANTED, fam), family: fam, members: [], timed: true, timeout: config.knock.grantSeconds });
  }
  if (config.fail2ban.enabled) {
    for (const fam of [4, 6] as Family[]) sets.push({ name: setName(BAN, fam), family: fam, members: [], timed: true, timeout: 0 });
  }
  return sets;
}

/**
 * The names of the sets whose members differ from what the kernel holds (or which it lacks), and
 * the whitelist sets an older tm3 made without counters: ipset cannot add them to a live set, so
 * they are swapped for a side set made with them, holding the same members.
 */
export function changedSets(plan: SetPlan[], kernel: Map<string, string[]>, lacking: Set<string> = new Set()): SetPlan[] {
  return plan.filter((s) => {
    const have = kernel.get(s.name);
    if (s.timed) return !have; // live grants and bans: only created, never replaced
    return !have || lacking.has(s.name) || have.length !== s.members.length || have.some((m, i) => m !== s.members[i]);
  });
}
