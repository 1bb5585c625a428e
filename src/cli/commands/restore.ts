import type { Command } from 'commander';
import type { Ctx } from '../context.js';
import { listDeleted } from '../../store/deleted.js';
import { entryValue } from '../../model/entry-summary.js';
import { reportChange } from './report.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('restore')
    .description('bring back an entry del-acct removed (it keeps each one under /var/backups/tm3/deleted/)')
    .argument('[backup-or-name]', 'the id del-acct printed (e.g. 20261126T213701Z-home), or an entry name for its latest deletion')
    .option('-l, --list', 'list the deleted entries that can be restored (the default without an argument)')
    .option('--json', 'with --list: machine-readable')
    .option('-n, --dry-run', 'show the entry and the kernel change, change nothing')
    .action(async (which: string | undefined, opts: { list?: boolean; json?: boolean; dryRun?: boolean }) => {
      const ctx = await context();
      const { readBackup, restoreEntry } = await import('../../ops/restore.js');
      if (opts.list || which === undefined) {
        const rows = listDeleted(ctx.paths).map((b) => {
          // each file is read as untrusted input: a bad one is listed with its reason, not trusted
          try {
            const e = readBackup(ctx, b);
            return { id: b.id, name: b.name, deletedAt: b.deletedAt, file: ctx.paths.inServer(b.file), value: entryValue(e), source: e.source };
          } catch (err) {
            return { id: b.id, name: b.name, deletedAt: b.deletedAt, file: ctx.paths.inServer(b.file), error: (err as Error).message };
          }
        });
        if (opts.json) return ctx.out.json(rows);
        if (rows.length === 0) return ctx.out.line('no deleted entry is kept');
        for (const r of rows) ctx.out.line(`${r.id}  ${r.name}: ${'error' in r ? `cannot be restored: ${r.error}` : `${r.value}, source ${r.source}`} (deleted ${r.deletedAt})`);
        ctx.out.info('tm3 restore ID brings one back');
        return;
      }
      const { backup, entry, result, addresses } = await restoreEntry(ctx, which, Boolean(opts.dryRun));
      if (!opts.dryRun) await reportChange(ctx, `restored ${entry.name}: ${entryValue(entry, addresses)} (from ${ctx.paths.inServer(backup.file)})`, result);
    });
}
