import ipaddr from 'ipaddr.js';
import { parseHost, netContains } from '../model/address.js';
import { InputError } from '../model/errors.js';
import { knockEntryName } from '../model/knock.js';
import type { Entry } from '../model/entry.js';
import { setName, personSetName, personServices, KNOCK, BAN, GRANTED, entryAddresses } from '../plan/sets.js';
import { readKnockState } from '../store/knock-state.js';
import { withLock } from '../store/lock.js';
import { entryExists } from '../store/entries.js';
import { addTimed, banned, removeMembers } from '../apply/ipset.js';
import { syslog } from '../apply/system.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';

// Its own file, apart from ops/knock.ts (rendering, knockd, rotation): knockd runs this between
// a knock and the door opening, so it loads only what a grant needs; the entry change of
// permanent mode is imported only when permanent mode is on.

/** Who opened: a person (their SPA stanza or, later, their knock section), and the packet's own source. */
export interface Who { person?: string; from?: string; method?: 'knock' | 'spa' | 'callin' }

/**
 * A knock that came through: a timed grant, and a permanent entry when activated.
 * `granted`: knockd's fast path (templates/knock-grant.hbs) already made and logged the timed
 * grant after the same checks; this run does the rest, and takes the grant back if a check
 * here refuses it after all (a ban that landed in between, a person revoked or expired).
 */
export async function grant(ctx: Ctx, text: string, granted = false, who: Who = {}): Promise<{ address: string; entry?: string; alreadyWhitelisted: boolean; timedOnly?: string; seconds: number }> {
  const net = parseHost(text, 'knock address');
  const addr = ipaddr.parse(net.address);
  const set = setName(KNOCK, net.family);
  let person: import('./person-grant.js').Granted | undefined;
  try {
    if (['loopback', 'linkLocal'].includes(addr.range())) throw new InputError(`knock address ${net.address} is ${addr.range()}`, 'knocks come from client addresses only');
    if (!ctx.config.knock.enabled) throw new InputError('knocking is disabled', 'set [knock] enabled = true, then tm3 restart');
    // A ban outranks a right knock: no grant at all (the ban rule would drop its packets anyway).
    if (await banned(setName(BAN, net.family), net.address, !ctx.config.fail2ban.enabled)) {
      throw new InputError(`knock address ${net.address} is banned: no grant`, `tm3 unban ${net.address} first, if the ban was a mistake`);
    }
    if (who.person) person = await (await import('./person-grant.js')).personFor(ctx, net.address, who);
  } catch (e) {
    if (granted) {
      // the fast path put a person's grant in their service sets, a site knock's in the site set;
      // another person behind the same address (one NAT) keeps the grant they hold there; the
      // grant union keeps its member until its timeout (see removeGrants in ops/grants.ts)
      if (who.person) {
        const { otherHolders } = await import('./person-grant.js');
        if ((await otherHolders(ctx, net.address, who.person)).length === 0) for (const svc of personServices(ctx.config)) await removeMembers(personSetName(svc, net.family), [net.address]);
      } else await removeMembers(set, [net.address]);
      await syslog(`knock: took back the grant of ${net.address}: ${(e as Error).message}`, 'warning');
    }
    throw e;
  }
  const seconds = person?.seconds ?? ctx.config.knock.grantSeconds;
  const claim = person ? await import('./person-grant.js') : undefined;
  // the owner first, the grant, then the person looked up again: a revoke racing this leaves nothing
  if (person) await claim!.claimGrant(ctx, net.address, person, seconds);
  if (!granted) {
    // a person's grant reaches their services only: it goes into one timed set per service
    // the grant union first (always for the longest grant, see GRANTED), then the grant's own sets
    await addTimed(setName(GRANTED, net.family), net.address, ctx.config.knock.grantSeconds);
    for (const s of person ? claim!.personSets(ctx, person, net.family) : [set]) await addTimed(s, net.address, seconds);
    await syslog(`knock grant: ${net.address} for ${seconds}s (${(person?.services ?? ctx.config.knock.services).join(',')})${person ? ` to person ${person.name}` : ''}`);
  }
  if (person) await claim!.stillAllowed(ctx, net.address, net.family, person);
  const opening = { address: net.address, person: person?.name ?? null, method: who.method ?? 'knock', services: person?.services ?? ctx.config.knock.services, seconds } as const;
  const done = async (r: { address: string; entry?: string; alreadyWhitelisted: boolean; timedOnly?: string }) => {
    await (await import('./person-grant.js')).recordOpening(ctx, { ...opening, at: new Date().toISOString(), ...(r.entry ? { entry: r.entry } : {}) }, person, granted);
    return { ...r, seconds };
  };
  const st = await readKnockState(ctx.paths);
  if (person ? !person.permanent : !st.permanent) return done({ address: net.address, alreadyWhitelisted: false });

  // Check and add under one lock: two knocks in quick succession must not make two entries.
  const { changeEntryLocked } = await import('./entry-change.js');
  return withLock(ctx.paths, async () => {
    // Again under the lock: a revoke (or expiry) that held it while this waited has already
    // collected the person's entries, so an entry made now would outlive them (red team).
    if (person) await claim!.stillAllowed(ctx, net.address, net.family, person);
    const { entries, cache } = await loadState(ctx);
    const covered = entries.some((e) => entryAddresses(e, cache).some((c) => netContains(c, net.address)));
    if (covered) return done({ address: net.address, alreadyWhitelisted: true });
    const refused = await noEntryFor(ctx, net.address, entries);
    if (refused) {
      await syslog(`knock: ${net.address} keeps a timed grant only: ${refused}`, 'warning');
      return done({ address: net.address, alreadyWhitelisted: false, timedOnly: refused });
    }
    const now = new Date();
    // a person's entry carries their name, so revoking them finds it (NAME-YYYYmmdd-HHMMSS)
    const base = person ? `${person.name}-${knockEntryName(now)}` : knockEntryName(now);
    let name = base;
    for (let i = 2; await entryExists(ctx.paths, name); i++) name = `${base}-${i}`;
    const entry: Entry = { name, address: net, services: person?.services ?? ctx.config.knock.services, source: 'knock', added: now.toISOString(), ...(person ? { person: person.name } : {}) };
    await changeEntryLocked(ctx, { add: entry }, false);
    await syslog(`knock: permanently whitelisted ${net.address} as ${name}`);
    return done({ address: net.address, entry: name, alreadyWhitelisted: false });
  });
}


/** Permanent knock entries made in the last hour: what the cap counts. */
export function permanentLastHour(entries: Entry[], now = Date.now()): number {
  return entries.filter((e) => e.source === 'knock' && now - Date.parse(e.added) < 3_600_000).length;
}

/**
 * Why a right knock must not become a permanent entry, if it must not: a knock from the
 * server itself or a trusted network proves nothing (a banned one got no grant at all), and spoofed knocks from
 * many addresses must not fill the store (the cap per hour; past it, grants stay timed).
 */
async function noEntryFor(ctx: Ctx, address: string, entries: Entry[]): Promise<string | undefined> {
  const a = ipaddr.process(address);
  if (ctx.config.firewall.trusted.some((t) => netContains(t.cidr, address))) return 'it is in a trusted network';
  const { ownAddresses } = await import('./own-addresses.js');
  if ((await ownAddresses(ctx)).includes(a.toString())) return 'it is an address of this server';
  const made = permanentLastHour(entries);
  if (made >= ctx.config.knock.maxPermanentPerHour) return `${made} permanent knock entries in the last hour reach [knock] max_permanent_per_hour (${ctx.config.knock.maxPermanentPerHour})`;
  return undefined;
}
