import type { Command } from 'commander';
import { validateName } from '../../model/name.js';
import { parseHost, printable } from '../../model/address.js';
import { InputError } from '../../model/errors.js';
import { readEntries, entryExists } from '../../store/entries.js';
import { interactive, pickEntry } from '../prompt.js';
import type { Ctx } from '../context.js';
import { reportChange } from './report.js';
import { guardOptions, addGuardOptions } from './guard-options.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  addGuardOptions(program
    .command('del-acct')
    .description('remove a whitelist entry, or every entry and the knock grant of an ADDRESS, from the kernel at once (the original del-acct)')
    .argument('[name-or-address]', 'entry name, or a single address; omitted on a terminal, a picker is shown')
    .option('-n, --dry-run', 'show what would be removed, change nothing'))
    .action(async (target: string | undefined, opts: { dryRun?: boolean; force?: boolean; confirmSeconds?: string }) => {
      const guard = guardOptions(opts);
      const ctx = await context();
      if (target === undefined) {
        if (!interactive()) throw new InputError('no entry name given', 'tm3 del-acct NAME or tm3 del-acct ADDRESS (tm3 list shows the names)');
        target = validateName(await pickEntry((await readEntries(ctx.paths, ctx.config.catalog)).entries.map((e) => e.name)));
      }
      const { changeEntry } = await import('../../ops/entry-change.js');
      // A name wins; otherwise an address stands for every entry that holds exactly it, and its grant.
      const isName = (() => { try { validateName(target); return true; } catch { return false; } })();
      if (isName && (await entryExists(ctx.paths, target))) {
        const result = await changeEntry(ctx, { remove: [target], guard }, Boolean(opts.dryRun));
        if (!opts.dryRun) await reportChange(ctx, `removed ${target}`, result);
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
      const result = await changeEntry(ctx, { remove: h.entries, grants: h.grants, guard, what: `removing ${address}` }, Boolean(opts.dryRun));
      if (!opts.dryRun) await reportChange(ctx, `removed ${address}: ${what}`, result);
    });
}
