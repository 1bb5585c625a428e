import type { Command } from 'commander';
import { validateName } from '../../model/name.js';
import { InputError } from '../../model/errors.js';
import { readEntries, entryExists } from '../../store/entries.js';
import { interactive, pickEntry } from '../prompt.js';
import type { Ctx } from '../context.js';
import { reportChange } from './report.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('del-acct')
    .description('remove a whitelist entry and its addresses from the kernel (the original del-acct)')
    .argument('[name]', 'entry name; omitted on a terminal, a picker is shown')
    .option('-n, --dry-run', 'show what would be removed, change nothing')
    .action(async (name: string | undefined, opts: { dryRun?: boolean }) => {
      if (name !== undefined) validateName(name);
      const ctx = await context();
      if (name === undefined) {
        if (!interactive()) throw new InputError('no entry name given', 'tm3 del-acct NAME (tm3 list shows the names)');
        name = validateName(await pickEntry((await readEntries(ctx.paths, ctx.config.catalog)).entries.map((e) => e.name)));
      }
      // checked again under the lock; this early check keeps a typo from touching the disk at all
      if (!(await entryExists(ctx.paths, name))) throw new InputError(`there is no entry named ${name}`, "'tm3 list' shows the names");
      const { changeEntry } = await import('../../ops/entry-change.js');
      const result = await changeEntry(ctx, { remove: name }, Boolean(opts.dryRun));
      if (!opts.dryRun) await reportChange(ctx, `removed ${name}`, result);
    });
}
