import ipaddr from 'ipaddr.js';
import { parseHost } from '../model/address.js';
import { InputError } from '../model/errors.js';
import { validatePersonName, expired } from '../model/person.js';
import { readPerson, setGrantHolder, writeLastAccess, grantHolders } from '../store/people.js';
import { appendOpening, openingLine, type Opening } from '../store/audit.js';
import { syslog } from '../apply/system.js';
import { removeMembers } from '../apply/ipset.js';
import { personSetName, personServices } from '../plan/sets.js';
import type { Family } from '../model/address.js';
import type { Ctx } from '../cli/context.js';
import type { Who } from './knock-grant.js';

export interface Granted { name: string; services: string[]; seconds: number; permanent: boolean }

/** The timed sets a person's grant goes into: one per service of theirs that knocking can give. */
export const personSets = (ctx: Ctx, p: Granted, family: Family) => p.services.filter((s) => personServices(ctx.config).includes(s)).map((s) => personSetName(s, family));

/**
 * The person an opening is for, or a refusal: a name with no file (revoked), a person past
 * --expires, or an SPA packet whose named address is not the one it came from (fwknopd's $SRC
 * against $PKT_SRC: a captured packet resent from elsewhere must open nothing).
 */
export async function personFor(ctx: Ctx, address: string, who: Who): Promise<Granted> {
  const name = validatePersonName(who.person ?? '');
  const p = await readPerson(ctx.paths, ctx.config.catalog, name);
  if (!p) throw new InputError(`there is no person ${name}`, 'tm3 user list shows who has access');
  if (expired(p)) throw new InputError(`person ${name} expired at ${p.expires}`, `tm3 user add ${name} --expires DATE gives them access again`);
  if (who.from !== undefined) {
    const from = parseHost(who.from, 'packet source');
    if (ipaddr.process(from.address).toString() !== ipaddr.process(address).toString()) {
      await syslog(`knock grant refused: person ${name}'s packet names ${address} but came from ${from.address}`, 'warning');
      throw new InputError(`the packet names ${address} but came from ${from.address}`, 'send it from the address it names (fwknop -R or -a YOUR.ADDRESS)');
    }
  }
  // a grant never outlives the person: it ends at their expiry at the latest
  const left = p.expires ? Math.floor((Date.parse(p.expires) - Date.now()) / 1000) : Infinity;
  if (left < 1) throw new InputError(`person ${name} expired at ${p.expires}`, `tm3 user add ${name} --expires DATE gives them access again`);
  const services = p.services.filter((s) => personServices(ctx.config).includes(s));
  if (services.length === 0) throw new InputError(`person ${name}'s services (${p.services.join(',')}) are all outside [knock] services now`, `widen [knock] services, or tm3 user revoke ${name}`);
  return { name, services, seconds: Math.min(p.grantSeconds ?? Infinity, ctx.config.knock.grantSeconds, left), permanent: p.permanent };
}

/**
 * A revoke racing an opening (fwknopd ran tm3 just before the revoke restarted it) must not
 * leave a grant behind. The owner record is written before the grant is added, and the person
 * is looked up again after: either this sees them gone and takes the grant back, or the revoke
 * (which deletes the person first, then reads the owner records and the live grants) sees both.
 */
export async function claimGrant(ctx: Ctx, address: string, person: Granted, seconds: number): Promise<void> {
  await setGrantHolder(ctx.paths, ipaddr.process(address).toString(), person.name, new Date(Date.now() + seconds * 1000).toISOString());
}

/**
 * The other people holding a grant on this address now: a record of someone since revoked or
 * expired (a grant that was ended another way leaves one) holds nothing.
 */
export async function otherHolders(ctx: Ctx, address: string, except: string, holders?: Record<string, string>): Promise<string[]> {
  const held = holders ?? (await grantHolders(ctx.paths)).get(ipaddr.process(address).toString()) ?? {};
  const out: string[] = [];
  for (const [k, until] of Object.entries(held)) {
    if (k === except || Date.parse(until) <= Date.now()) continue;
    const p = await readPerson(ctx.paths, ctx.config.catalog, k).catch(() => undefined);
    if (p && !expired(p)) out.push(k);
  }
  return out;
}

export async function stillAllowed(ctx: Ctx, address: string, family: Family, person: Granted): Promise<void> {
  const p = await readPerson(ctx.paths, ctx.config.catalog, person.name).catch(() => undefined);
  if (p && !expired(p)) return;
  // someone else behind the same address keeps their grant
  const others = await setGrantHolder(ctx.paths, ipaddr.process(address).toString(), person.name);
  if ((await otherHolders(ctx, address, person.name, others)).length === 0) for (const set of personSets(ctx, person, family)) await removeMembers(set, [address]);
  throw new InputError(`person ${person.name} was revoked while their opening ran; it was taken back`, 'nothing to do');
}

/**
 * The audit trail of one opening: syslog, /var/log/tm3/access.jsonl, and the person's records.
 * `logged`: knockd's fast path logged the opening itself; only an entry made since is added.
 */
export async function recordOpening(ctx: Ctx, o: Opening, person?: Granted, logged = false): Promise<void> {
  if (!logged || o.entry) {
    await syslog(openingLine(o));
    await appendOpening(ctx.paths, o).catch((e: Error) => syslog(`access log not written: ${e.message}`, 'warning'));
  }
  if (!person) return;
  await writeLastAccess(ctx.paths, person.name, { at: o.at, from: o.address, method: o.method });
}
