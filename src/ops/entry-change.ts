import { planSets, entryAddresses } from '../plan/sets.js';
import { formatEntry, neverBanned, type Entry } from '../model/entry.js';
import { liftBans } from './fail2ban.js';
import { InputError } from '../model/errors.js';
import { writeEntry, deleteEntry, entryExists } from '../store/entries.js';
import { FileUndo } from '../store/files.js';
import { writeCache, type Cache } from '../store/cache.js';
import { withLock } from '../store/lock.js';
import { inputPolicy } from '../apply/iptables.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';
import { describeSetChanges, syncSets } from './sync-sets.js';

export interface ChangeResult { changes: string[]; swapped: string[] }

/**
 * Add, replace or remove one entry: store first (atomic), then the kernel; if the kernel
 * refuses, the store is put back so disk and kernel never disagree.
 */
export async function changeEntry(ctx: Ctx, change: Change, dryRun: boolean): Promise<ChangeResult> {
  return withLock(ctx.paths, () => changeEntryLocked(ctx, change, dryRun), { dryRun });
}

type Change = { add?: Entry; remove?: string; replace?: boolean; hostRecord?: Cache[string] };

/** changeEntry for a caller that holds the lock already (a knock deciding whether to add). */
export async function changeEntryLocked(ctx: Ctx, change: Change, dryRun: boolean): Promise<ChangeResult> {
  const state = await loadState(ctx);
  const name = change.add?.name ?? change.remove!;
  const exists = await entryExists(ctx.paths, name);
  if (change.add && exists && !change.replace) throw new InputError(`an entry named ${name} already exists`, `pick another name, or pass --replace to overwrite it`);
  if (change.remove && !exists) throw new InputError(`there is no entry named ${name}`, "'tm3 list' shows the names");
  const after = {
    entries: state.entries.filter((e) => e.name !== name).concat(change.add ? [change.add] : []),
    cache: change.add?.host && change.hostRecord ? { ...state.cache, [change.add.host]: change.hostRecord } : state.cache,
  };
  const changes = describeSetChanges(planSets(ctx.config, state.entries, state.cache), planSets(ctx.config, after.entries, after.cache));
  if (dryRun) {
    if (change.add) ctx.out.line(`would write ${ctx.paths.entryFile(name)}:\n${formatEntry(change.add)}`);
    else ctx.out.line(`would delete ${ctx.paths.entryFile(name)}`);
    ctx.out.line(changes.length ? `would change the kernel sets:\n  ${changes.join('\n  ')}` : 'the kernel sets would not change');
    return { changes, swapped: [] };
  }
  const undo = new FileUndo();
  await undo.remember(ctx.paths.entryFile(name));
  await undo.remember(ctx.paths.ipsets);
  await undo.remember(ctx.paths.cache);
  try {
    if (change.add) await writeEntry(ctx.paths, change.add);
    else await deleteEntry(ctx.paths, name);
    if (after.cache !== state.cache) await writeCache(ctx.paths, after.cache);
    const swapped = await syncSets(ctx, after);
    if (change.add && neverBanned(change.add)) await liftBans(ctx, entryAddresses(change.add, after.cache));
    if ((await inputPolicy(4)) !== 'DROP') ctx.out.warn('the firewall is not active in this network namespace (INPUT policy is not DROP); run tm3 restart');
    return { changes, swapped };
  } catch (err) {
    await undo.rollback();
    // a swap that failed half way is put back to the old plan as well
    await syncSets(ctx, state).catch(() => undefined);
    throw err;
  }
}
