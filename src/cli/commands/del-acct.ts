import type { Command } from 'commander';
import { validateName } from '../../model/name.js';
import { parseHost, printable } from '../../model/address.js';
import { InputError } from '../../model/errors.js';
import { readEntries, entryExists } from '../../store/entries.js';
import { interactive, pickEntry, confirm } from '../prompt.js';
import { readCache } from '../../store/cache.js';
import { deletedDir } from '../../store/deleted.js';
import { entrySummary } from '../../model/entry-summary.js';
import type { ChangeResult } from '../../ops/entry-change.js';
import type { Ctx } from '../context.js';
import { reportChange } from './report.js';
import { guardOptions, addGuardOptions } from './guard-options.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  addGuardOptions(program
    .command('del-acct')
    .description('remove a whitelist entry, or every entry and the knock grant of an ADDRESS, from the kernel at once (the original del-acct)')
    .argument('[name-or-address]', 'entry name, or a single address; omitted on a terminal, a picker is shown')
    .option('-y, --yes', 'do not ask for confirmation on a terminal')
    .option('-n, --dry-run', 'show what would be removed, change nothing'))
    .action(async (target: string | undefined, opts: { dryRun?: boolean; yes?: boolean; force?: boolean; confirmSeconds?: string }) => {
      const guard = guardOptions(opts);
      const ctx = await context();
      // what each entry lets in, for the picker and the question; a script is asked nothing, so
      // it does not read the whole store twice (20,000 entries)
      const asking = target === undefined || (interactive() && !opts.yes && !opts.dryRun);
      const entries = asking ? (await readEntries(ctx.paths, ctx.config.catalog)).entries : [];
      const { cache } = asking ? await readCache(ctx.paths) : { cache: {} as Awaited<ReturnType<typeof readCache>>['cache'] };
      const summary = (name: string) => {
        const e = entries.find((x) => x.name === name);
        return e ? entrySummary(e, e.host ? cache[e.host] : undefined) : 'an unreadable entry file';
      };
      if (target === undefined) {
        if (!interactive()) throw new InputError('no entry name given', 'tm3 del-acct NAME or tm3 del-acct ADDRESS (tm3 list shows the names)');
        target = validateName(await pickEntry(entries.map((e) => ({ name: e.name, summary: summary(e.name) }))));
      }
      // On a terminal, say what goes and ask; a script (no terminal) is not asked, as before.
      const ask = async (what: string[]) => {
        if (opts.dryRun || opts.yes || !interactive()) return;
        ctx.out.line(`This removes:\n  ${what.join('\n  ')}`);
        if (!(await confirm('Delete?'))) throw new InputError('nothing deleted', 'answer y to delete, or pass --yes');
      };
      const { changeEntry } = await import('../../ops/entry-change.js');
      // A name wins; otherwise an address stands for every entry that holds exactly it, and its grant.
      const isName = (() => { try { validateName(target); return true; } catch { return false; } })();
      if (isName && (await entryExists(ctx.paths, target))) {
        await ask([`entry ${target}: ${summary(target)}`]);
        const result = await changeEntry(ctx, { remove: [target], guard, keep: true }, Boolean(opts.dryRun));
        if (opts.dryRun) ctx.out.line(`would keep a copy in ${ctx.paths.inServer(deletedDir(ctx.paths))}/ for tm3 restore`);
        else await reportKept(ctx, `removed ${target}`, result);
        return;
      }
      let address: string;
      try { address = parseHost(target).address; } catch {
        if (isName) throw new InputError(`there is no entry named ${target}`, "'tm3 list' shows the names; an address removes every entry that holds it");
        throw new InputError(`'${printable(target)}' is neither an entry name nor a single address`, 'tm3 del-acct NAME, or tm3 del-acct ADDRESS');
      }
      const { holding } = await import('../../ops/del-address.js');
      const h = await holding(ctx, address);
      for (const c of h.covering) ctx.out.warn(`${address} stays covered by entry ${c} (a network); remove that entry too if it must go`);
      if (h.entries.length === 0 && h.grants.length === 0) throw new InputError(`no entry and no knock grant holds ${address}`, "'tm3 status' shows the addresses in force");
      const what = [...h.entries.map((e) => `entry ${e}`), ...h.grants.map((g) => `the knock grant of ${g.address} (${g.secondsLeft}s left)`)].join(', ');
      if (opts.dryRun) ctx.out.line(`would remove ${what}`);
      await ask([...h.entries.map((e) => `entry ${e}: ${summary(e)}`), ...h.grants.map((g) => `the knock grant of ${g.address} (${g.secondsLeft}s left)`)]);
      const result = await changeEntry(ctx, { remove: h.entries, grants: h.grants, guard, what: `removing ${address}`, keep: true }, Boolean(opts.dryRun));
      if (opts.dryRun && h.entries.length) ctx.out.line(`would keep a copy of each entry in ${ctx.paths.inServer(deletedDir(ctx.paths))}/ for tm3 restore`);
      if (!opts.dryRun) await reportKept(ctx, `removed ${address}: ${what}`, result);
    });
}

/** The removal, logged, then where each entry is kept and the command that brings it back. */
async function reportKept(ctx: Ctx, summary: string, result: ChangeResult) {
  const kept = result.kept ?? [];
  await reportChange(ctx, kept.length ? `${summary} (kept: ${kept.map((k) => ctx.paths.inServer(k.file)).join(', ')})` : summary, result);
  const root = ctx.paths.root === '/' ? '' : ` --root ${ctx.paths.root}`;
  for (const k of kept) ctx.out.line(`kept ${k.name} in ${ctx.paths.inServer(k.file)}; to bring it back: tm3${root} restore ${k.id}`);
}
