import type { Command } from 'commander';
import type { Ctx } from '../context.js';
import { guardOptions, addGuardOptions } from './guard-options.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  addGuardOptions(program
    .command('restart')
    .description('(re)start the firewall: rules.v4/v6, then Fail2Ban, then iptables-custom (the original iptables-restart)')
    .option('-n, --dry-run', 'show which files and sets would change, change nothing')
    .option('--json', 'machine-readable summary'))
    .action(async (opts: { dryRun?: boolean; json?: boolean; force?: boolean; confirmSeconds?: string }) => {
      const guard = guardOptions(opts);
      const ctx = await context();
      const { restart } = await import('../../ops/restart.js');
      const r = await restart(ctx, Boolean(opts.dryRun), guard);
      if (opts.json) return ctx.out.json(r);
      if (opts.dryRun) {
        ctx.out.line(r.written.length ? `would write:\n  ${r.written.join('\n  ')}` : 'no generated file would change');
        ctx.out.line(r.swapped.length ? `would load sets: ${r.swapped.join(' ')}` : 'no set would change');
        ctx.out.line('would apply rules.v4 and rules.v6, restart Fail2Ban and run iptables-custom');
        return;
      }
      for (const b of r.backups) ctx.out.info(`backed up the previous file to ${b}`);
      await ctx.out.action(`firewall restarted (${r.swapped.length} set(s) loaded, fail2ban ${r.fail2ban}, iptables-custom ${r.custom}, knockd ${r.knockd})`);
    });
}
