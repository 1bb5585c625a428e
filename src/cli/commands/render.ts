import type { Command } from 'commander';
import { loadState } from '../../ops/state.js';
import { withLock } from '../../store/lock.js';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('render')
    .description('(re)write every generated file under the root from templates and config; the kernel is not touched')
    .option('-n, --dry-run', 'list the files that would change, write nothing')
    .option('--json', 'machine-readable: every planned file, the ones written, the backups')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      const ctx = await context();
      const [{ renderFiles }, { planSets }, { knockInputs }] = await Promise.all([import('../../ops/render-files.js'), import('../../plan/sets.js'), import('../../ops/knock.js')]);
      const r = await withLock(ctx.paths, async () => {
        const state = await loadState(ctx);
        return renderFiles(ctx, planSets(ctx.config, state.entries, state.cache), Boolean(opts.dryRun), await knockInputs(ctx, Boolean(opts.dryRun)), { state });
      }, { dryRun: opts.dryRun });
      // the people's files (fwknopd's, the cards, logrotate): written here, fwknopd restarted by tm3 restart or tm3 user
      const people = await (await import('../../ops/people.js')).writePeopleFiles(ctx, undefined, Boolean(opts.dryRun));
      r.written.push(...people.written);
      if (opts.json) {
        const texts = opts.dryRun ? Object.fromEntries(r.files.filter((f) => r.written.includes(f.path)).map((f) => [f.path, f.text])) : undefined;
        return ctx.out.json({ files: r.files.map((f) => f.path), written: r.written, backups: r.backups, texts });
      }
      for (const b of r.backups) ctx.out.info(`backed up the previous file to ${b}`);
      const verb = opts.dryRun ? 'would write' : 'wrote';
      ctx.out.line(r.written.length ? `${verb}:\n  ${r.written.join('\n  ')}` : 'every generated file is up to date');
    });
}
