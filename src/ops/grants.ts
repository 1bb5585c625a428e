import ipaddr from 'ipaddr.js';
import { addTimed, removeMembers, raiseTimed, readSetState, type SetState } from '../apply/ipset.js';
import { syslog } from '../apply/system.js';
import { setName, KNOCK, KNOCK_SET_RE, GRANTED } from '../plan/sets.js';
import type { Access } from '../plan/reach.js';
import type { Family } from '../model/address.js';
import { withLock } from '../store/lock.js';
import type { Ctx } from '../cli/context.js';
import type { Paths } from '../store/paths.js';
import { guardLockout, confirmForced, type GuardOptions } from './lockout.js';

/**
 * A live knock grant, as the kernel holds it: the kernel itself ends it when secondsLeft runs out.
 * `sets`: each timed set the address is in (the site's, a person's services'), with its time left.
 */
export interface Grant { address: string; family: Family; secondsLeft: number; sets: Record<string, number>; /** the people it is for (tm3 user); none = the site knock */ people?: string[] }

/** Every live grant, from the timed knock sets ("add tm3-knock-4 192.0.2.10 timeout 3581"), one per address. */
export async function liveGrants(): Promise<Grant[]> {
  // one `ipset save` of everything: a save per knock set was two dozen processes
  return grantsOf(await readSetState());
}

/** The live grants in a snapshot of the kernel's sets, longest-lived first. */
export function grantsOf(state: SetState): Grant[] {
  const byAddress = new Map<string, Grant>();
  for (const [set, members] of state.grants) {
    const family: Family = set.endsWith('-6') ? 6 : 4;
    for (const [address, left] of members) {
      const g = byAddress.get(address) ?? { address, family, secondsLeft: 0, sets: {} };
      g.sets[set] = left;
      g.secondsLeft = Math.max(g.secondsLeft, left);
      byAddress.set(address, g);
    }
  }
  return [...byAddress.values()].sort((a, b) => b.secondsLeft - a.secondsLeft);
}

const same = (a: string, b: string) => { try { return ipaddr.process(a).toString() === ipaddr.process(b).toString(); } catch { return false; } };

/** The grants with the people each is for (tm3 status, why and knock status show them). */
export async function withPeople(paths: Paths, grants: Grant[]): Promise<Grant[]> {
  const { grantHolders } = await import('../store/people.js');
  const holders = await grantHolders(paths);
  const now = Date.now();
  return grants.map((g) => {
    const people = Object.entries(holders.get(ipaddr.process(g.address).toString()) ?? {}).filter(([, until]) => Date.parse(until) > now).map(([p]) => p).sort();
    return people.length ? { ...g, people } : g;
  });
}

/** The access model without these grants: what revoking them leaves. */
export function withoutGrants(access: Access[], addresses: string[]): Access[] {
  return access.map((k) => {
    const sets = new Map(k.sets);
    for (const name of [...sets.keys()].filter((n) => KNOCK_SET_RE.test(n))) sets.set(name, (sets.get(name) ?? []).filter((c) => !addresses.some((a) => same(c.split('/')[0], a))));
    return { ...k, sets };
  });
}

/**
 * End these grants now; returns what was removed, so a rollback can put them back.
 * The grant union (tm3-granted-4/6) keeps its members until their timeout: it is only the
 * stranger's filter, so a member left there opens nothing, while taking it out could race a
 * knock that lands meanwhile (the fast path holds no lock) and leave that new grant shut.
 */
export async function removeGrants(grants: Grant[]): Promise<void> {
  const bySet = new Map<string, string[]>();
  for (const g of grants) for (const set of Object.keys(g.sets)) bySet.set(set, [...(bySet.get(set) ?? []), g.address]);
  for (const [set, addresses] of bySet) await removeMembers(set, addresses);
}

export async function restoreGrants(grants: Grant[]): Promise<void> {
  await fillGrantUnion(grants);
  for (const g of grants) for (const [set, left] of Object.entries(g.sets)) if (left > 0) await addTimed(set, g.address, left);
}

/**
 * Every live grant's address in the grant union of its family, for at least as long as the
 * grant lasts: restart runs it before new rules load (a union just created, by an upgrade or a
 * failsafe repair, must not shut grants already made), and a rollback before putting grants back.
 */
export async function fillGrantUnion(grants?: Grant[]): Promise<void> {
  const live = grants ?? (await liveGrants());
  for (const family of [4, 6] as Family[]) {
    const want = new Map(live.filter((g) => g.family === family).map((g) => [g.address, g.secondsLeft] as const));
    if (want.size) await raiseTimed(setName(GRANTED, family), want);
  }
}

/** The part of a grant that is people's (their service sets), not the site knock's. */
export const peoplesPart = (g: Grant): Grant => {
  const sets = Object.fromEntries(Object.entries(g.sets).filter(([set]) => set !== setName(KNOCK, g.family)));
  return { ...g, sets, secondsLeft: Math.max(0, ...Object.values(sets)) };
};

/** tm3 knock revoke: end live grants at once (an address, or all of them). */
export async function revokeGrants(ctx: Ctx, which: string | 'all', opts: { dryRun: boolean; guard: GuardOptions }): Promise<Grant[]> {
  return withLock(ctx.paths, async () => {
    const live = await liveGrants();
    const gone = which === 'all' ? live : live.filter((g) => same(g.address, which));
    if (opts.dryRun || gone.length === 0) return gone;
    const addresses = gone.map((g) => g.address);
    const cuts = await guardLockout(ctx, opts.guard, `revoking the knock grant of ${which === 'all' ? 'everyone' : which}`, (now) => withoutGrants(now, addresses));
    await removeGrants(gone);
    try {
      await confirmForced(ctx, cuts, opts.guard);
    } catch (err) {
      await restoreGrants(gone);
      throw err;
    }
    await syslog(`knock revoke: ended the grant of ${addresses.join(' ')}`);
    return gone;
  }, { dryRun: opts.dryRun });
}
