import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('refresh')
    .description('re-resolve every FQDN entry and swap in changed addresses (the original ipchecker)')
    .option('-n, --dry-run', 'resolve and show what would change, change nothing')
    .option('--reason <why>', 'who triggered it, for the log (e.g. timer, if-up:eth0)', 'manual')
    .option('--json', 'machine-readable summary')
    .action(async (opts: { dryRun?: boolean; json?: boolean; reason: string }) => {
      if (!/^[A-Za-z0-9:._-]{1,40}$/.test(opts.reason)) throw new InputError('--reason may only hold letters, digits and : . _ -', 'e.g. --reason if-up:eth0');
      const ctx = await context();
      const [{ refresh }, { syslog }, { isLinkEvent, reviveKnockd }] = await Promise.all([import('../../ops/refresh.js'), import('../../apply/system.js'), import('../../ops/link-up.js')]);
      const r = await refresh(ctx, Boolean(opts.dryRun));
      // after the refresh: its kernel change must not wait on knockd's start job
      const knockd = isLinkEvent(opts.reason) && !opts.dryRun ? await reviveKnockd(ctx) : undefined;
      if (knockd) await ctx.out.action(`${opts.reason}: ${knockd}`);
      if (r.failed.length) {
        const msg = `${r.failed.length} of ${r.hosts} name(s) did not resolve; their last good addresses stay in force: ${r.failed.join(', ')}`;
        ctx.out.warn(msg);
        if (!opts.dryRun) await syslog(msg, 'warning');
      }
      for (const name of r.expiredPeople ?? []) await ctx.out.action(`refresh: person ${name} expired and was revoked`);
      if (opts.json) return ctx.out.json(r);
      for (const c of r.changes) ctx.out.info(`  ${c}`);
      const what = r.swapped.length ? `${r.swapped.length} set(s) swapped` : 'no change';
      if (opts.dryRun) ctx.out.line(`dry run: ${r.hosts} name(s) resolved, ${r.swapped.length} set(s) would be swapped`);
      else if (r.swapped.length) await ctx.out.action(`refresh (${opts.reason}): ${r.hosts} name(s), ${what}`);
      else ctx.out.info(`refresh (${opts.reason}): ${r.hosts} name(s), ${what}`);
    });
}
