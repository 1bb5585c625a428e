import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import ipaddr from 'ipaddr.js';
import { InputError, Tm3Error } from '../model/errors.js';
import { validatePersonName, expired, type Person } from '../model/person.js';
import { ALL } from '../model/services.js';
import { spaFiles, cardFile, logrotateFile, type SpaInputs } from '../plan/spa-files.js';
import { readPeople, readPerson, writePerson, deletePerson, grantHolders, setGrantHolder } from '../store/people.js';
import { readKnockState } from '../store/knock-state.js';
import { writeIfChanged, removeFile } from '../store/files.js';
import { withLock } from '../store/lock.js';
import { restartFwknopd, stopFwknopd } from '../apply/fwknopd.js';
import { defaultInterface, interfaceAddress } from '../apply/net.js';
import { syslog } from '../apply/system.js';
import { tm3Command } from '../tm3-command.js';
import type { Ctx } from '../cli/context.js';
import { liveGrants, removeGrants, restoreGrants, withoutGrants, peoplesPart, type Grant } from './grants.js';
import { guardLockout, confirmForced, type GuardOptions } from './lockout.js';
import { loadState } from './state.js';
import { reachableFromOutside, knockInputs, applyKnock, knockPortsTaken, newSequence } from './knock.js';

/** New SPA keys: fwknop's Rijndael key (32 bytes) and HMAC-SHA256 key (64 bytes). */
export const newKeys = () => ({ key: randomBytes(32).toString('base64'), hmacKey: randomBytes(64).toString('base64') });

async function spaInputs(ctx: Ctx, people: Person[]): Promise<SpaInputs | undefined> {
  const iface = ctx.config.knock.interface || (await defaultInterface());
  if (!iface) return undefined;
  const found = ctx.config.server.publicAddress || (await interfaceAddress(iface));
  const st = await readKnockState(ctx.paths);
  return {
    people, interface: iface, server: found || 'this-server', addressKnown: Boolean(ctx.config.server.publicAddress) || (found !== undefined && reachableFromOutside(found)),
    tm3: tm3Command(ctx.paths.root), ...(ctx.config.knock.enabled && st.sequence ? { knockSequence: st.sequence } : {}),
  };
}

/** knockd.conf and the fast path rewritten for who is in the list now, knockd restarted on them. */
async function applyPeopleKnock(ctx: Ctx): Promise<string> {
  const k = await knockInputs(ctx, false);
  return k ? applyKnock(ctx, k) : 'disabled';
}

/** A person's own knock: three ports no other knock (the site's, anyone else's) uses. */
const personSequence = async (ctx: Ctx, name: string, old: number[] = []) => newSequence(ctx, [...(await knockPortsTaken(ctx, name)), ...old]);

/**
 * Render access.conf (one stanza per person), fwknopd.conf, the cards and the logrotate snippet,
 * then restart fwknopd on them (stop it when nobody is left). Openings go through the knock
 * sets, so SPA needs knocking's timed sets: with [knock] enabled = false fwknopd is stopped.
 */
export async function applyPeople(ctx: Ctx, people?: Person[]): Promise<string> {
  const r = await writePeopleFiles(ctx, people);
  if (!r.inputs) { ctx.out.warn('fwknopd has no interface to listen on (no default route); set [knock] interface'); return 'no interface'; }
  if (!r.ours) return 'left alone (its access.conf is not tm3\'s)';
  if (!r.serving) {
    await stopFwknopd(ctx.paths, true);
    return r.live === 0 ? 'stopped (no people)' : 'stopped ([spa] or [knock] disabled)';
  }
  return restartFwknopd(ctx.paths, r.inputs.interface);
}

/**
 * The people's files (tm3 render writes them too): the logrotate snippet, each card, and
 * fwknopd's two files. With nobody to serve, access.conf keeps no stanza (no key works, even
 * for a fwknopd someone else starts); a box that never had a person gets no /etc/fwknop files.
 */
export async function writePeopleFiles(ctx: Ctx, people?: Person[], dryRun = false): Promise<{ inputs?: SpaInputs; serving: boolean; live: number; written: string[]; ours: boolean }> {
  const list = people ?? (await readPeople(ctx.paths, ctx.config.catalog)).people;
  const live = list.filter((p) => !expired(p));
  const written: string[] = [];
  const put = async (f: { path: string; text: string; mode: number }) => {
    if (f.path.startsWith(`${ctx.paths.cardsDir}/`) && !dryRun) await fs.mkdir(ctx.paths.cardsDir, { recursive: true, mode: 0o700 });
    const same = (await fs.readFile(f.path, 'utf8').catch(() => undefined)) === f.text;
    if (!same) written.push(f.path);
    if (!same && !dryRun) await writeIfChanged(f.path, f.text, f.mode);
  };
  await put(logrotateFile(ctx.paths));
  const inputs = await spaInputs(ctx, live);
  if (!inputs) return { serving: false, live: live.length, written, ours: false };
  for (const p of live) await put(cardFile(ctx.config, ctx.paths, inputs, p));
  const serving = ctx.config.spa.enabled && ctx.config.knock.enabled && live.length > 0;
  // An fwknop set up by hand (a migrated box) is the admin's: with nobody in tm3's list it is not
  // touched, and tm3 will not serve people over it. Debian's stock file (placeholder keys) is fair game.
  const now = await fs.readFile(ctx.paths.fwknopAccess, 'utf8').catch(() => undefined);
  const ours = now === undefined || now.startsWith('# Written by tm3') || /^KEY_BASE64\s+__CHANGEME__$/m.test(now);
  if (!ours && list.length) throw new Tm3Error(`${ctx.paths.inServer(ctx.paths.fwknopAccess)} is not tm3's (fwknop set up by hand)`, `move it and fwknopd.conf aside (their stanzas can become tm3 user add), then run the command again`, 2);
  if (ours && (serving || now !== undefined || list.length)) for (const f of spaFiles(ctx.config, ctx.paths, serving ? inputs : { ...inputs, people: [] })) await put(f);
  return { inputs, serving, live: live.length, written, ours: ours && (now !== undefined || list.length > 0) };
}

export interface AddOptions { services: string[]; expires?: string; grantSeconds?: number; permanent: boolean; dryRun: boolean }

export function addPerson(ctx: Ctx, name: string, o: AddOptions): Promise<{ person: Person; card: string; fwknopd: string }> {
  validatePersonName(name);
  if (!ctx.config.knock.enabled) throw new InputError('knocking is disabled, and personal access opens through its timed sets', 'set [knock] enabled = true, then tm3 restart');
  const outside = o.services.filter((s) => !ctx.config.knock.services.includes(ALL) && !ctx.config.knock.services.includes(s));
  if (outside.length) throw new InputError(`--services ${outside.join(',')} is outside [knock] services (${ctx.config.knock.services.join(',')}), and an opening gives exactly those`, `give a subset of ${ctx.config.knock.services.join(',')}, or widen [knock] services`);
  // the failsafe holds every grant to [knock] grant_seconds (a longer one looks like a planted hole)
  if (o.grantSeconds && o.grantSeconds > ctx.config.knock.grantSeconds) throw new InputError(`--grant ${o.grantSeconds}s is longer than [knock] grant_seconds (${ctx.config.knock.grantSeconds}s), the longest grant tm3 allows`, `give --grant ${ctx.config.knock.grantSeconds} or less, or raise [knock] grant_seconds`);
  return withLock(ctx.paths, async () => {
    if (await readPerson(ctx.paths, ctx.config.catalog, name).catch(() => true)) throw new InputError(`person ${name} exists already`, `tm3 user rotate ${name} gives new keys; tm3 user revoke ${name} removes them`);
    const person: Person = { name, services: o.services, ...(o.expires ? { expires: o.expires } : {}), ...(o.grantSeconds ? { grantSeconds: o.grantSeconds } : {}), permanent: o.permanent, ...newKeys(), added: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), knock: await personSequence(ctx, name) };
    const card = ctx.paths.inServer(ctx.paths.userCard(name));
    if (o.dryRun) return { person, card, fwknopd: 'unchanged' };
    await writePerson(ctx.paths, person);
    // the fast path first (fwknopd's stanza runs it, and it must know them), then fwknopd;
    // fwknop set up by hand refuses (writePeopleFiles): the person is not left half made
    await applyPeopleKnock(ctx).catch((e: Error) => ctx.out.warn(`knockd: ${e.message}`));
    const fwknopd = await applyPeople(ctx).catch(async (err: Error) => {
      await deletePerson(ctx.paths, name);
      await removeFile(ctx.paths.userCard(name));
      await applyPeopleKnock(ctx).catch(() => undefined);
      throw err;
    });
    await syslog(`user add: ${name} (${o.services.join(',')}${o.expires ? `, until ${o.expires}` : ''})`);
    return { person, card, fwknopd };
  }, { dryRun: o.dryRun });
}

export function rotatePerson(ctx: Ctx, name: string, dryRun: boolean): Promise<string> {
  validatePersonName(name);
  return withLock(ctx.paths, async () => {
    const p = await readPerson(ctx.paths, ctx.config.catalog, name);
    if (!p) throw new InputError(`there is no person ${name}`, 'tm3 user list shows who has access');
    if (dryRun) return ctx.paths.inServer(ctx.paths.userCard(name));
    await writePerson(ctx.paths, { ...p, ...newKeys(), knock: await personSequence(ctx, name, p.knock) });
    await applyPeopleKnock(ctx);
    await applyPeople(ctx);
    await syslog(`user rotate: new SPA keys and knock for ${name}`);
    return ctx.paths.inServer(ctx.paths.userCard(name));
  }, { dryRun });
}

/** `shared`: granted addresses another person holds too (one NAT): their grant stays */
export interface Revocation { name: string; grants: string[]; entries: string[]; shared: string[] }

/** What a person holds: their live grants (by the owner records) and their permanent entries. */
async function holdings(ctx: Ctx, name: string): Promise<{ grants: Grant[]; shared: Grant[]; entries: string[] }> {
  const holders = await grantHolders(ctx.paths);
  // a person's grant is in their service sets; the site knock's set is nobody's to revoke
  const mine = (await liveGrants()).filter((g) => holders.get(ipaddr.process(g.address).toString())?.[name] !== undefined).map(peoplesPart).filter((g) => Object.keys(g.sets).length > 0);
  // an address another person holds a grant on too (one NAT, two travellers) stays granted for them
  // (a record left by someone revoked or expired since holds nothing)
  const { otherHolders } = await import('./person-grant.js');
  const shared: Grant[] = [];
  for (const g of mine) if ((await otherHolders(ctx, g.address, name, holders.get(ipaddr.process(g.address).toString()) ?? {})).length) shared.push(g);
  const { entries } = await loadState(ctx);
  return { grants: mine.filter((g) => !shared.includes(g)), shared, entries: entries.filter((e) => e.person === name).map((e) => e.name) };
}

/**
 * tm3 user revoke: their stanza first (fwknopd restarted without it: their key opens nothing
 * more), then their live grants and permanent entries, established flows included (the
 * whitelist rules match the sets on every packet). Nobody else's stanza, grant or entry moves.
 */
export function revokePerson(ctx: Ctx, name: string, opts: { dryRun: boolean; guard: GuardOptions; why?: string }): Promise<Revocation> {
  validatePersonName(name);
  return withLock(ctx.paths, () => revokeLocked(ctx, name, opts), { dryRun: opts.dryRun });
}

async function revokeLocked(ctx: Ctx, name: string, opts: { dryRun: boolean; guard: GuardOptions; why?: string }): Promise<Revocation> {
  const exists = await fs.lstat(ctx.paths.userFile(name)).then(() => true, () => false);
  const seen = await holdings(ctx, name);
  if (!exists && seen.grants.length === 0 && seen.entries.length === 0) throw new InputError(`there is no person ${name}`, 'tm3 user list shows who has access');
  if (opts.dryRun) return { name, grants: seen.grants.map((g) => g.address), entries: seen.entries, shared: seen.shared.map((g) => g.address) };
  // the person first, fwknopd restarted without them, and only then what they hold: an opening
  // in flight either sees them gone (person-grant.ts stillAllowed) or is counted here
  await deletePerson(ctx.paths, name);
  await removeFile(ctx.paths.userCard(name));
  await applyPeopleKnock(ctx).catch((e: Error) => ctx.out.warn(`knockd: ${e.message}`));
  await applyPeople(ctx).catch((e: Error) => ctx.out.warn(`fwknopd: ${e.message}`));
  const held = await holdings(ctx, name);
  const result = { name, grants: held.grants.map((g) => g.address), entries: held.entries, shared: held.shared.map((g) => g.address) };
  if (held.entries.length) {
    const { changeEntryLocked } = await import('./entry-change.js');
    await changeEntryLocked(ctx, { remove: held.entries, grants: held.grants, guard: opts.guard, what: `revoking ${name}` }, false);
  } else if (held.grants.length) {
    const addresses = held.grants.map((g) => g.address);
    const cuts = await guardLockout(ctx, opts.guard, `revoking ${name}`, (now) => withoutGrants(now, addresses));
    await removeGrants(held.grants);
    try { await confirmForced(ctx, cuts, opts.guard); } catch (err) { await restoreGrants(held.grants); throw err; }
  }
  for (const g of [...held.grants, ...held.shared]) await setGrantHolder(ctx.paths, ipaddr.process(g.address).toString(), name);
  await syslog(`user revoke: ${name}${opts.why ? ` (${opts.why})` : ''}; ended grants ${result.grants.join(' ') || 'none'}; removed entries ${result.entries.join(' ') || 'none'}`);
  return result;
}

/** The refresh timer's part: everyone past --expires is revoked, one by one; a failure is said, the rest go on. */
export async function expirePeople(ctx: Ctx): Promise<string[]> {
  const { people } = await readPeople(ctx.paths, ctx.config.catalog);
  const gone: string[] = [];
  for (const p of people.filter((x) => expired(x))) {
    try {
      // nobody typed this: the lockout guard does not ask (lockout.ts), and an expired person is gone regardless
      await revokePerson(ctx, p.name, { dryRun: false, guard: { force: true }, why: `expired ${p.expires}` });
      gone.push(p.name);
    } catch (err) {
      ctx.out.warn(`person ${p.name} expired but was not revoked: ${(err as Error).message}`);
    }
  }
  return gone;
}
