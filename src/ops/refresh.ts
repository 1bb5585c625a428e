import { planSets, changedSets } from '../plan/sets.js';
import { ipsetsText } from '../plan/files.js';
import { readSetState, swapSets, countsAfterSwap } from '../apply/ipset.js';
import { recordUsage } from '../store/usage.js';
import { resolveAll } from '../resolve/resolve-all.js';
import { ownAddresses } from './own-addresses.js';
import { writeCache } from '../store/cache.js';
import { writeIfChanged } from '../store/files.js';
import { withLock } from '../store/lock.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';
import { describeSetChanges } from './sync-sets.js';
import { ensureClosed } from './closed.js';

export interface RefreshResult {
  hosts: number;
  failed: string[];
  changedHosts: string[];
  swapped: string[];
  changes: string[];
  /** people past --expires, revoked by this run (issue 18) */
  expiredPeople?: string[];
}

/** The original's ipchecker: re-resolve every name, keep last good, swap only changed sets. */
export async function refresh(ctx: Ctx, dryRun: boolean): Promise<RefreshResult> {
  // the timer is what ends people past --expires; each revocation takes the lock itself
  const expiredPeople = dryRun ? [] : await (await import('./people.js')).expirePeople(ctx);
  const r = await refreshSets(ctx, dryRun);
  return expiredPeople.length ? { ...r, expiredPeople } : r;
}

function refreshSets(ctx: Ctx, dryRun: boolean): Promise<RefreshResult> {
  return withLock(ctx.paths, async () => {
    const state = await loadState(ctx);
    const hosts = state.entries.flatMap((e) => (e.host ? [e.host] : []));
    const report = await lookUpNames(ctx, state);
    const sets = planSets(ctx.config, state.entries, report.cache);
    const read = await readSetState();
    const { sets: kernel, lacking } = read;
    const changed = changedSets(sets, kernel, lacking);
    const changes = describeSetChanges(planSets(ctx.config, state.entries, state.cache), sets);
    const result = { hosts: new Set(hosts).size, failed: report.failed, changedHosts: report.changed, swapped: changed.map((s) => s.name), changes };
    if (dryRun) return result;
    // Disk first: if we are killed after this, the next run still finds the kernel out of date and swaps.
    await writeCache(ctx.paths, report.cache);
    await writeIfChanged(ctx.paths.ipsets, ipsetsText(sets), 0o640);
    const carried = await swapSets(changed, new Set(kernel.keys()));
    // the timer's look at the hit counters: when each entry was last used (tm3 list --stale)
    await recordUsage(ctx.paths, countsAfterSwap(sets, changed, carried ?? read.hits)).catch((e: Error) => ctx.out.warn(`hit counters not recorded: ${e.message}`));
    // a moved admin name: its new address is never banned, its old one may be again
    if (report.changed.length) await (await import('./fail2ban.js')).syncIgnored(ctx, state, { ...state, cache: report.cache });
    // The timer is the box's heartbeat: a firewall found open is closed again here too.
    // A kernel without tm3's sets never ran tm3 restart (a staged root): nothing to hold closed.
    if (kernel.size > 0) await ensureClosed(ctx);
    return result;
  }, { dryRun });
}

/** Every entry's name looked up again: a failed lookup keeps the last good answer (resolveAll). */
export async function lookUpNames(ctx: Ctx, state: Awaited<ReturnType<typeof loadState>>) {
  const hosts = state.entries.flatMap((e) => (e.host ? [e.host] : []));
  const progress = ctx.out.progress('resolving');
  return resolveAll(hosts, state.cache, { ...ctx.config.dns, own: await ownAddresses(ctx), onProgress: progress.tick });
}
