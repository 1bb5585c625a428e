import { planSets, changedSets, type SetPlan } from '../plan/sets.js';
import type { Cut } from '../plan/reach.js';
import type { KnockInputs } from '../plan/knock-files.js';
import { rulesText } from '../plan/files.js';
import { readTm3Sets, readSetState, swapSets, destroySets, createMissingSets, countsAfterSwap, fillSideSets, swapInSideSets, dropSideSets, retimeSets, type SetState, type Hits } from '../apply/ipset.js';
import { testRules, restoreRules, saveRules } from '../apply/iptables.js';
import { runCustomScript, hasSystemd, syslog } from '../apply/system.js';
import type { AdminFailure } from '../plan/admin-trace.js';
import { restartDiff, type RestartDiff } from './restart-diff.js';
import { CALLIN_LOG } from '../plan/fail2ban-files.js';
import { touchLogs, FileUndo, readText } from '../store/files.js';
import { extractAdminBody } from '../plan/admin-section.js';
import { restartFail2ban, seedConfig, fail2banInstalled, fail2banRunning, stopFail2ban } from '../apply/fail2ban.js';
import { withLock } from '../store/lock.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';
import { renderFiles, type RenderResult } from './render-files.js';
import { guardLockout, confirmForced, plannedAccess, type GuardOptions } from './lockout.js';
import { knockInputs, applyKnock } from './knock.js';
import { ensureClosed } from './closed.js';
import { lookUpNames } from './refresh.js';
import { writeCache } from '../store/cache.js';
import { recordUsage } from '../store/usage.js';

/** adminFailures: ADMIN SECTION lines that failed (line number in iptables-custom, its text, the error) */
export interface RestartResult { written: string[]; backups: string[]; swapped: string[]; fail2ban: string; custom: string; knockd: string; adminFailures: AdminFailure[]; diff?: RestartDiff }

/**
 * The original's iptables-restart: rules.v4/v6, then Fail2Ban, then iptables-custom.
 * Sets go in first because the rules refer to them; both rule files are --tested before
 * either is applied, and a refused file leaves the old table in force.
 */
export async function restart(ctx: Ctx, dryRun: boolean, guard: GuardOptions = {}): Promise<RestartResult> {
  return withLock(ctx.paths, async () => {
    const loaded = await loadState(ctx);
    // As the original iptables-restart did: names are looked up again (last good kept on
    // failure, within [dns] timeout_ms), so a migrated or stale name is current after restart.
    const state = { ...loaded, cache: await freshNames(ctx, loaded, dryRun) };
    const sets = planSets(ctx.config, state.entries, state.cache);
    const read = await readSetState();
    const { sets: kernel, lacking } = read;
    const changed = changedSets(sets, kernel, lacking);
    // The changed sets' side sets fill now (at 20,000 entries the kernel's longest job), while
    // the lockout guard runs, both rule files are tested and the files rendered: side sets are
    // matched by no rule, and every way out before the swap throws them away.
    const filling = dryRun ? undefined : fillSideSets(changed, read);
    filling?.catch(() => undefined); // awaited below, whatever happens meanwhile
    try {
      // A config change under an admin's session (a narrower [firewall] trusted) is refused before
      // any file or rule changes; a forced one is kept only if confirmed (on a terminal).
      const adminBody = extractAdminBody(await readText(ctx.paths.custom)) ?? '';
      const cuts = dryRun ? [] : await guardLockout(ctx, guard, 'this restart', (now) => plannedAccess(ctx, now, sets, adminBody), state);
      const undo = cuts.length ? new FileUndo() : undefined;
      const before = cuts.length ? { v4: await saveRules(4), v6: await saveRules(6), sets: await readTm3Sets() } : undefined;
      const knock = await knockInputs(ctx, dryRun);
      const render = () => renderFiles(ctx, sets, dryRun, knock, { undo, state });
      if (!filling) {
        const rendered = await render();
        const diff = await restartDiff(ctx, sets, rendered, kernel, adminBody);
        return { written: rendered.written, backups: [], swapped: changed.map((s) => s.name), fail2ban: 'unchanged', custom: 'not run', knockd: 'unchanged', adminFailures: [], diff };
      }
      try {
        return await applyRestart(ctx, sets, read, changed, filling, render, knock, cuts, guard);
      } catch (err) {
        if (undo && before) {
          await undo.rollback();
          await swapSets(sets.map((s) => ({ ...s, members: before.sets.get(s.name) ?? [] })), new Set((await readTm3Sets()).keys())).catch(() => undefined);
          await restoreRules(4, before.v4).catch(() => undefined);
          await restoreRules(6, before.v6).catch(() => undefined);
        }
        throw err;
      }
    } catch (err) {
      // refused or failed before its swap: the side sets go (after it, they are gone already)
      if (filling) {
        await filling.catch(() => undefined);
        await dropSideSets(changed);
      }
      throw err;
    }
  }, { dryRun });
}

async function applyRestart(ctx: Ctx, sets: SetPlan[], read: SetState, changed: SetPlan[], filling: Promise<Map<string, Map<string, Hits>> | undefined>, render: () => Promise<RenderResult>, knock: KnockInputs | undefined, cuts: Cut[], guard: GuardOptions): Promise<RestartResult> {
  // Test both rule files before any live set or rule changes: a refusal leaves all of it as it was.
  const kernel = read.sets;
  const existing = new Set(kernel.keys());
  for (const n of await createMissingSets(sets, existing)) existing.add(n);
  // the rules below let only the grant union's members reach the grant rules: a union just
  // created (an upgrade, a repair) gets the grants already live first
  // (from the snapshot read above: a grant made since then went into the union with its set)
  if (ctx.config.knock.enabled) {
    const { fillGrantUnion, grantsOf } = await import('./grants.js');
    await fillGrantUnion(grantsOf(read));
  }
  const v4 = rulesText(ctx.config, 4);
  const v6 = rulesText(ctx.config, 6);
  await testRules(4, v4);
  await testRules(6, v6);
  // The files only once both rule files passed: a refused restart leaves the disk as it was (a
  // rules file the kernel refuses, written anyway, would fail the next boot's load).
  const rendered = await render();
  const carried = await filling;
  await swapInSideSets(changed);
  // a changed [knock] grant_seconds: the timed sets take the new default, live grants kept
  await retimeSets(sets, read.timeouts);
  await restoreRules(4, v4);
  await restoreRules(6, v6);
  const planned = new Set(sets.map((s) => s.name));
  await destroySets([...kernel.keys()].filter((n) => !planned.has(n)));
  const counts = countsAfterSwap(sets, changed, carried ?? read.hits);

  const fail2ban = await fail2banStep(ctx);
  // The sets were swapped and both rule files restored above: the script's own reload of them
  // would only repeat it (ensureClosed checks the result below).
  const custom = await runCustomScript(ctx.paths.custom, true);
  if (!custom.ok) ctx.out.warn(`iptables-custom reported errors (the rules that worked are in force):\n${custom.output}`);
  // each failing line of the admin's own, named with its error, on screen and in the log
  const shown = ctx.paths.inServer(ctx.paths.custom);
  for (const f of custom.failures) {
    const text = `ADMIN SECTION line ${f.line} of ${shown} failed: ${f.text}: ${f.error}`;
    ctx.out.warn(text);
    await syslog(`tm3 restart: ${text}`, 'warning');
  }
  const knockd = knock ? await applyKnock(ctx, knock).catch((e: Error) => { ctx.out.warn(`knockd: ${e.message}`); return 'failed'; }) : 'disabled';
  // personal SPA (issue 18): fwknopd on the people's stanzas, stopped when there are none
  await (await import('./people.js')).applyPeople(ctx).catch((e: Error) => ctx.out.warn(`fwknopd: ${e.message}`));

  // Sets converted to counters just now start being counted here. Recorded while the failsafe's
  // child checks the kernel: at 20,000 entries that is tens of milliseconds of our own work (and
  // an fsync) that no longer add to the wait. The counts are the swap's, taken before the script.
  const usage = recordUsage(ctx.paths, counts).catch((e: Error) => ctx.out.warn(`hit counters not recorded: ${e.message}`));
  // Last, whatever the ADMIN SECTION did: closed again, loudly, or this restart fails.
  try {
    await ensureClosed(ctx, true);
  } finally {
    await usage;
  }
  await confirmForced(ctx, cuts, guard);
  return { written: rendered.written, backups: rendered.backups, swapped: changed.map((s) => s.name), fail2ban, custom: !custom.ok ? 'errors' : custom.failures.length ? `${custom.failures.length} ADMIN SECTION line(s) failed` : 'ok', knockd, adminFailures: custom.failures };
}

async function fail2banStep(ctx: Ctx): Promise<string> {
  if (!ctx.config.fail2ban.enabled) {
    // the whole layer off: a fail2ban-server tm3 started itself (no systemd) stops too
    if (!hasSystemd(ctx.paths.root) && (await fail2banRunning(ctx.paths))) await stopFail2ban(ctx.paths);
    return 'disabled in config';
  }
  if (!(await fail2banInstalled())) {
    // the rest of the restart (iptables-custom, knockd) must not depend on the second layer
    ctx.out.warn('fail2ban is enabled but not installed: apt-get install fail2ban, or set [fail2ban] enabled = false');
    return 'not installed';
  }
  await seedConfig(ctx.paths);
  // A jail whose log file is missing stops fail2ban-server from starting at all (Asterisk not yet
  // installed, or a box that logs only to the journal): an empty file keeps the other jails up.
  await touchLogs(ctx.paths, [ctx.config.fail2ban.asteriskLog, '/var/log/fail2ban.log', CALLIN_LOG, ...(hasSystemd(ctx.paths.root) ? [] : ['/var/log/auth.log'])]);
  const state = await restartFail2ban(ctx.paths);
  if (!['restarted', 'reloaded', 'started'].includes(state)) ctx.out.warn(`fail2ban: ${state}`);
  return state;
}

async function freshNames(ctx: Ctx, state: Awaited<ReturnType<typeof loadState>>, dryRun: boolean) {
  if (!state.entries.some((e) => e.host)) return state.cache;
  const report = await lookUpNames(ctx, state);
  for (const h of report.failed) {
    const kept = [...(report.cache[h]?.v4 ?? []), ...(report.cache[h]?.v6 ?? [])];
    ctx.out.warn(`${h} did not resolve: ${kept.length ? `its last good addresses stay whitelisted (${kept.join(', ')})` : 'not whitelisted until it does'}`);
  }
  if (!dryRun && report.cache !== state.cache) await writeCache(ctx.paths, report.cache);
  return report.cache;
}
