import type { Command } from 'commander';
import type { Ctx } from '../context.js';
import { guardOptions, addGuardOptions } from './guard-options.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  addGuardOptions(program
    .command('migrate')
    .description('move a legacy Travelin\' Man 3 / Incredible PBX / XiVO / Wazo firewall onto tm3, keeping every entry and the knock code')
    .option('-n, --dry-run', 'show the entries, the report and the diffs; write nothing')
    .option('--apply', 'then restart the firewall and refresh the names (tm3 restart; tm3 refresh)')
    .option('--rollback', 'put back every file of the last migration byte for byte')
    .option('--json', 'machine-readable: entries, report, files changed'))
    .action(async (opts: { dryRun?: boolean; apply?: boolean; rollback?: boolean; json?: boolean; force?: boolean; confirmSeconds?: string }) => {
      const guard = guardOptions(opts);
      const ctx = await context();
      // imported here, as in every command (see main.ts): other commands start without them
      const [{ migrate, rollback }, { restart }, { refresh }] = await Promise.all([import('../../ops/migrate.js'), import('../../ops/restart.js'), import('../../ops/refresh.js')]);
      const dryRun = Boolean(opts.dryRun);
      if (opts.rollback) {
        const r = await rollback(ctx, dryRun);
        if (opts.json) return ctx.out.json(r);
        const verb = dryRun ? 'would restore' : 'restored';
        ctx.out.line(`${verb} ${r.restored.length} file(s) and ${dryRun ? 'would remove' : 'removed'} ${r.removed.length} from ${ctx.paths.inServer(r.backupDir)}`);
        for (const f of r.restored) ctx.out.info(`  restored /${f}`);
        for (const f of r.removed) ctx.out.info(`  removed  /${f}`);
        if (!dryRun) ctx.out.info('the kernel still runs the migrated rules: load the old ones with netfilter-persistent restart (or the old iptables-restart)');
        return;
      }
      const r = await migrate(ctx, dryRun, { apply: opts.apply && !dryRun });
      if (opts.json) return ctx.out.json({ entries: r.plan.entries.map((e) => ({ name: e.name, address: e.address?.cidr, host: e.host, services: e.services, source: e.source })), report: r.plan.report, changed: r.changed.map((f) => ctx.paths.inServer(f)), backupDir: r.backupDir && ctx.paths.inServer(r.backupDir) });
      if (!dryRun && r.changed.length === 0) return ctx.out.line(`nothing to migrate: ${r.plan.report.length ? 'every legacy source is already in tm3' : 'no legacy firewall found'}`);
      for (const line of r.plan.report) (line.startsWith('NOT UNDERSTOOD') ? ctx.out.warn(line) : ctx.out.info(line));
      if (dryRun) {
        if (r.plan.report.length === 0) return ctx.out.line('nothing to migrate: no legacy firewall found');
        ctx.out.line('dry run: nothing was written.');
        for (const d of r.diffs) ctx.out.line(d);
        return;
      }
      await ctx.out.action(`migrated ${r.plan.entries.length} entries; ${r.changed.length} files written; backups and report.txt in ${ctx.paths.inServer(r.backupDir!)}`);
      if (!opts.apply) return ctx.out.info('next: tm3 restart (then tm3 refresh) to load it; tm3 migrate --rollback undoes the files');
      const fresh = await context(); // the migrated config drop-in, read from disk
      await restart(fresh, false, guard);
      await refresh(fresh, false);
      await ctx.out.action('firewall restarted with the migrated whitelist');
    });
}
