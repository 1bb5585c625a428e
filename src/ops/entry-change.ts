import { planSets, entryAddresses } from '../plan/sets.js';
import { formatEntry, neverBanned, type Entry } from '../model/entry.js';
import { liftBans, syncIgnored } from './fail2ban.js';
import { InputError, Tm3Error } from '../model/errors.js';
import { entrySummary } from '../model/entry-summary.js';
import fs from 'node:fs/promises';
import { writeEntry, deleteEntry, entryExists, readEntryFile } from '../store/entries.js';
import { keepDeleted, type Backup } from '../store/deleted.js';
import { FileUndo } from '../store/files.js';
import { writeCache, type Cache } from '../store/cache.js';
import { withLock } from '../store/lock.js';
import { inputPolicy } from '../apply/iptables.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';
import { describeSetChanges, syncSets } from './sync-sets.js';
import { guardLockout, confirmForced, withSets, type GuardOptions } from './lockout.js';
import { withoutGrants, removeGrants, restoreGrants, type Grant } from './grants.js';

/** `replaced`: what an --replace overwrote, in one line (the admin sees and the log keeps the old value) */
export interface ChangeResult { changes: string[]; swapped: string[]; replaced?: string; kept?: Backup[] }

/**
 * Add, replace or remove one entry: store first (atomic), then the kernel; if the kernel
 * refuses, the store is put back so disk and kernel never disagree.
 */
export async function changeEntry(ctx: Ctx, change: Change, dryRun: boolean): Promise<ChangeResult> {
  return withLock(ctx.paths, () => changeEntryLocked(ctx, change, dryRun), { dryRun });
}

type Change = {
  add?: Entry; remove?: string[]; replace?: boolean; hostRecord?: Cache[string]; guard?: GuardOptions; what?: string; grants?: Grant[];
  /** several entries in one change (a provider's addresses); a name also in `remove` is replaced */
  adds?: Entry[]; hostRecords?: Cache;
  /** each removed entry's file is kept under /var/backups/tm3/deleted/ for tm3 restore */
  keep?: boolean;
};

/** changeEntry for a caller that holds the lock already (a knock deciding whether to add). */
export async function changeEntryLocked(ctx: Ctx, change: Change, dryRun: boolean): Promise<ChangeResult> {
  const state = await loadState(ctx);
  const adds = change.add ? [change.add] : change.adds ?? [];
  const removes = change.remove ?? [];
  const names = [...new Set([...adds.map((e) => e.name), ...removes])];
  for (const name of names) {
    const exists = await entryExists(ctx.paths, name);
    const adding = adds.some((e) => e.name === name);
    if (adding && exists && !change.replace && !removes.includes(name)) throw new InputError(`an entry named ${name} already exists`, `pick another name, or pass --replace to overwrite it`);
    if (removes.includes(name) && !exists) throw new InputError(`there is no entry named ${name}`, "'tm3 list' shows the names");
  }
  const records: Cache = { ...(change.hostRecords ?? {}), ...(change.add?.host && change.hostRecord ? { [change.add.host]: change.hostRecord } : {}) };
  const after = {
    entries: state.entries.filter((e) => !names.includes(e.name)).concat(adds),
    cache: Object.keys(records).length ? { ...state.cache, ...records } : state.cache,
  };
  const plan = planSets(ctx.config, after.entries, after.cache);
  const changes = describeSetChanges(planSets(ctx.config, state.entries, state.cache), plan);
  const replaced = change.add ? state.entries.find((e) => e.name === change.add!.name) : undefined;
  const was = replaced ? entrySummary(replaced, replaced.host ? state.cache[replaced.host] : undefined) : undefined;
  if (dryRun) {
    if (replaced) ctx.out.line(`would replace ${replaced.name}: ${was}\n${ctx.paths.entryFile(replaced.name)} holds now:\n${formatEntry(replaced)}`);
    for (const e of adds) ctx.out.line(`would write ${ctx.paths.entryFile(e.name)}:\n${formatEntry(e)}`);
    for (const name of removes) if (!adds.some((e) => e.name === name)) ctx.out.line(`would delete ${ctx.paths.entryFile(name)}`);
    ctx.out.line(changes.length ? `would change the kernel sets:\n  ${changes.join('\n  ')}` : 'the kernel sets would not change');
    return { changes, swapped: [], ...(was ? { replaced: was } : {}) };
  }
  // Only a removal or a replacement can take access away; a plain add never asks.
  const cuts = removes.length || change.grants?.length || replaced
    ? await guardLockout(ctx, change.guard ?? {}, change.what ?? `removing ${names.join(', ')}`, (now) => withoutGrants(withSets(now, plan), (change.grants ?? []).map((g) => g.address)), state)
    : [];
  const undo = new FileUndo();
  for (const name of names) await undo.remember(ctx.paths.entryFile(name));
  await undo.remember(ctx.paths.ipsets);
  await undo.remember(ctx.paths.cache);
  const kept: Backup[] = [];
  try {
    for (const name of removes) {
      if (adds.some((e) => e.name === name)) continue;
      if (change.keep) {
        // the file as it is (never followed if it is a link); one that cannot be read is not kept
        const text = readEntryFile(ctx.paths.entryFile(name));
        if (typeof text === 'string') {
          // Revocation comes first: a copy that cannot be kept safely (a planted link, a full disk)
          // is said, never a reason to leave a removed person's access in place.
          try { kept.push(await keepDeleted(ctx.paths, name, text)); } catch (err) {
            if (!(err instanceof Tm3Error)) throw err;
            ctx.out.warn(`${name} is removed but not kept for tm3 restore: ${err.message} (fix: ${err.fix})`);
          }
        } else ctx.out.warn(`${name}.iptables is not kept for tm3 restore: ${text instanceof Error ? text.message : 'it vanished'}`);
      }
      await deleteEntry(ctx.paths, name);
    }
    for (const e of adds) await writeEntry(ctx.paths, e);
    if (after.cache !== state.cache) await writeCache(ctx.paths, after.cache);
    const swapped = await syncSets(ctx, after);
    if (change.grants) await removeGrants(change.grants);
    for (const e of adds) if (neverBanned(e)) await liftBans(ctx, entryAddresses(e, after.cache));
    await syncIgnored(ctx, state, after);
    if ((await inputPolicy(4)) !== 'DROP') ctx.out.warn('the firewall is not active in this network namespace (INPUT policy is not DROP); run tm3 restart');
    await confirmForced(ctx, cuts, change.guard ?? {});
    return { changes, swapped, ...(was ? { replaced: was } : {}), ...(change.keep ? { kept } : {}) };
  } catch (err) {
    await undo.rollback();
    // the entries are back: a kept copy would only offer to restore what exists
    for (const k of kept) await fs.rm(k.file, { force: true }).catch(() => undefined);
    // a swap that failed half way is put back to the old plan as well
    await syncSets(ctx, state).catch(() => undefined);
    if (change.grants) await restoreGrants(change.grants).catch(() => undefined);
    throw err;
  }
}
