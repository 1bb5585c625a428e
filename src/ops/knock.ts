import ipaddr from 'ipaddr.js';
import { InputError, Tm3Error } from '../model/errors.js';
import { generateSequence, sequenceStillFree } from '../model/knock.js';
import { knockFiles, type KnockInputs, type PersonKnock } from '../plan/knock-files.js';
import { readPeople } from '../store/people.js';
import { expired } from '../model/person.js';
import { personServices } from '../plan/sets.js';
import { readKnockState, writeKnockState, type KnockState } from '../store/knock-state.js';
import { writeIfChanged } from '../store/files.js';
import { withLock } from '../store/lock.js';
import { restartKnockd } from '../apply/knockd.js';
import { defaultInterface, interfaceAddress, listeningPorts } from '../apply/net.js';
import { syslog } from '../apply/system.js';
import { tm3Command } from '../tm3-command.js';
import type { Ctx } from '../cli/context.js';

/** A fresh sequence that avoids RTP, the catalog, common ports, whatever listens here and `taken`. */
export async function newSequence(ctx: Ctx, taken: number[] = []): Promise<number[]> {
  return generateSequence(avoidRanges(ctx), [...(await listeningPorts()), ...taken]);
}

/**
 * The ports every knock holds (the site's, a pending one, each person's but `except`'s): no
 * two knocks share a port, so a person's knock is never a step of somebody else's.
 */
export async function knockPortsTaken(ctx: Ctx, except?: string, state?: KnockState): Promise<number[]> {
  const st = state ?? (await readKnockState(ctx.paths));
  const { people } = await readPeople(ctx.paths, ctx.config.catalog);
  return [...(st.sequence ?? []), ...(st.pending ?? []), ...people.filter((p) => p.name !== except).flatMap((p) => p.knock ?? [])];
}

/** Everyone the fast path opens for (knockd's sections and fwknopd's stanzas run it): living people, with their knock if they have one. */
async function knockPeople(ctx: Ctx): Promise<PersonKnock[]> {
  const { people } = await readPeople(ctx.paths, ctx.config.catalog);
  const can = personServices(ctx.config);
  return people.filter((p) => !expired(p) && p.services.some((s) => can.includes(s))).map((p) => {
    const until = p.expires ? Math.floor(Date.parse(p.expires) / 1000) : undefined;
    return { name: p.name, ...(p.knock ? { sequence: p.knock } : {}), services: p.services.filter((s) => can.includes(s)), seconds: Math.min(p.grantSeconds ?? Infinity, ctx.config.knock.grantSeconds), ...(until ? { until } : {}) };
  });
}

// A scope of a whole protocol (a migrated "-p udp" rule) is not a port to steer clear of.
const avoidRanges = (ctx: Ctx) => [...ctx.config.firewall.open, ...[...ctx.config.catalog.values()].flat()].filter((r) => r.to - r.from < 32_768);

/** The values knock files need; a box without a sequence gets one (kept until `knock rotate`). */
export async function knockInputs(ctx: Ctx, dryRun: boolean, state?: KnockState): Promise<KnockInputs | undefined> {
  if (!ctx.config.knock.enabled) return undefined;
  const st = state ?? (await readKnockState(ctx.paths));
  if (!st.sequence) {
    st.sequence = await newSequence(ctx, await knockPortsTaken(ctx, undefined, st));
    if (!dryRun) await writeKnockState(ctx.paths, st);
  }
  const iface = ctx.config.knock.interface || (await defaultInterface());
  if (!iface) {
    ctx.out.warn('knockd has no interface to listen on (no default route); set [knock] interface');
    return undefined;
  }
  const found = ctx.config.server.publicAddress || (await interfaceAddress(iface));
  // an address behind NAT (or none) is not what a phone outside can knock on: knock.FAQ says so
  const addressKnown = Boolean(ctx.config.server.publicAddress) || (found !== undefined && reachableFromOutside(found));
  return { sequence: st.sequence, permanent: st.permanent, interface: iface, server: found || 'this-server', addressKnown, tm3: tm3Command(ctx.paths.root), people: await knockPeople(ctx) };
}

const INSIDE = ['private', 'uniqueLocal', 'linkLocal', 'loopback', 'carrierGradeNat', 'unspecified'];
export const reachableFromOutside = (address: string) => !INSIDE.includes(ipaddr.parse(address).range());

/** Write the knock files and (re)start knockd on the configured interface. */
export async function applyKnock(ctx: Ctx, inputs: KnockInputs): Promise<string> {
  for (const f of knockFiles(ctx.config, ctx.paths, inputs)) await writeIfChanged(f.path, f.text, f.mode);
  return restartKnockd(ctx.paths, inputs.interface);
}

// knock.ini is read, changed and written back: under tm3's lock, so a rotate and a dry run (or
// activate) running at once never write back an old sequence a departed employee knew.
export function setPermanent(ctx: Ctx, on: boolean): Promise<void> {
  return withLock(ctx.paths, () => setPermanentLocked(ctx, on));
}

async function setPermanentLocked(ctx: Ctx, on: boolean): Promise<void> {
  const st = await readKnockState(ctx.paths);
  st.permanent = on;
  await writeKnockState(ctx.paths, st);
  const inputs = await knockInputs(ctx, false, st);
  if (inputs) for (const f of knockFiles(ctx.config, ctx.paths, inputs)) if (f.path === ctx.paths.knockFaq) await writeIfChanged(f.path, f.text, f.mode);
  await syslog(`knock permanent mode ${on ? 'activated' : 'deactivated'}`);
}

export interface Rotation { sequence: number[]; /** the sequence a dry run showed, used now */ asShown: boolean; /** a dry run's sequence could not be used */ dropped?: string }

/**
 * An employee left: a new sequence, knockd restarted on it, knock.FAQ rewritten. A dry run picks
 * the sequence and keeps it aside in knock.ini (pending), so the real rotate uses exactly what it
 * showed, unless a port of it became unusable meanwhile (then it says so and picks another).
 */
export function rotate(ctx: Ctx, dryRun: boolean): Promise<Rotation> {
  return withLock(ctx.paths, () => rotateLocked(ctx, dryRun));
}

async function rotateLocked(ctx: Ctx, dryRun: boolean): Promise<Rotation> {
  if (!ctx.config.knock.enabled) throw new InputError('knocking is disabled', 'set [knock] enabled = true first');
  const st = await readKnockState(ctx.paths);
  const old = st.sequence ?? [];
  const ranges = avoidRanges(ctx);
  // people's knocks stay theirs: the site's new sequence takes none of their ports
  const people = await knockPortsTaken(ctx, undefined, { permanent: st.permanent });
  const listening = [...(await listeningPorts()), ...people];
  const pending = st.pending;
  const usable = pending && !pending.some((p) => old.includes(p)) && sequenceStillFree(pending, ranges, listening);
  let seq = usable ? pending : await newSequence(ctx, people);
  while (seq.some((p) => old.includes(p))) seq = await newSequence(ctx, people);
  const dropped = pending && !usable ? `the sequence the dry run showed (${pending.join(' ')}) is no longer free here` : undefined;
  if (dryRun) {
    if (!usable) await writeKnockState(ctx.paths, { ...st, pending: seq });
    return { sequence: seq, asShown: Boolean(usable), dropped };
  }
  const next: KnockState = { sequence: seq, permanent: st.permanent };
  const inputs = await knockInputs(ctx, false, next);
  if (!inputs) throw new Tm3Error('knockd has no interface', 'set [knock] interface, then run tm3 knock rotate again', 2);
  await writeKnockState(ctx.paths, next);
  await applyKnock(ctx, inputs);
  await syslog(`knock sequence rotated`);
  return { sequence: seq, asShown: Boolean(usable), dropped };
}
