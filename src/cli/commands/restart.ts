import type { Command } from 'commander';
import type { Ctx } from '../context.js';
import { Tm3Error, InputError } from '../../model/errors.js';
import { printable } from '../../model/address.js';
import { guardOptions, addGuardOptions } from './guard-options.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  addGuardOptions(program
    .command('restart')
    .description('(re)start the firewall: rules.v4/v6, then Fail2Ban, then iptables-custom (the original iptables-restart)')
    .option('-n, --dry-run', 'show which files and sets would change, change nothing')
    .option('--json', 'machine-readable summary')
    .option('--admin-failures <fail|warn>', 'a failing ADMIN SECTION line of iptables-custom: exit 1 (fail), or only warn (the installer)', 'fail'))
    .action(async (opts: { dryRun?: boolean; json?: boolean; force?: boolean; confirmSeconds?: string; adminFailures: string }) => {
      const guard = guardOptions(opts);
      if (!['fail', 'warn'].includes(opts.adminFailures)) throw new InputError(`--admin-failures '${printable(opts.adminFailures)}' is neither fail nor warn`, 'use --admin-failures fail (the default) or warn');
      const adminFailed = (n: number) => { if (opts.adminFailures === 'fail') failIfAdminFailed(n, ctx.paths.inServer(ctx.paths.custom)); };
      const ctx = await context();
      const { restart } = await import('../../ops/restart.js');
      const r = await restart(ctx, Boolean(opts.dryRun), guard);
      if (opts.json) {
        ctx.out.json(r);
        return adminFailed(r.adminFailures.length);
      }
      if (opts.dryRun) {
        ctx.out.line(r.written.length ? `would write:\n  ${r.written.join('\n  ')}` : 'no generated file would change');
        for (const d of r.diff?.files ?? []) ctx.out.line(d.trimEnd());
        // against the kernel now: a rule or a policy changed by hand shows here
        for (const { family, diff } of r.diff?.rules ?? []) {
          ctx.out.line(diff ? `would change tm3's IPv${family} rules in the kernel (policies, TM3 chains, rules commented tm3):\n${diff.trimEnd()}` : `tm3's IPv${family} rules in the kernel are as planned`);
        }
        for (const { family, rules } of r.diff?.gone ?? []) {
          if (rules.length) ctx.out.line(`would remove ${rules.length} IPv${family} rule(s) made by hand, which neither tm3 nor the ADMIN SECTION of ${ctx.paths.inServer(ctx.paths.custom)} makes again (put them in the ADMIN SECTION to keep them):\n  ${rules.join('\n  ')}`);
        }
        const sets = r.diff?.sets ?? [];
        ctx.out.line(sets.length ? `would change the kernel sets (${r.swapped.join(' ')}):\n  ${sets.join('\n  ')}` : 'no set would change');
        ctx.out.line('would apply rules.v4 and rules.v6, restart Fail2Ban and run iptables-custom (which adds the ADMIN SECTION rules again)');
        return;
      }
      for (const b of r.backups) ctx.out.info(`backed up the previous file to ${b}`);
      await ctx.out.action(`firewall restarted (${r.swapped.length} set(s) loaded, fail2ban ${r.fail2ban}, iptables-custom ${r.custom}, knockd ${r.knockd})`);
      adminFailed(r.adminFailures.length);
    });
}

/**
 * A failed ADMIN SECTION line fails the restart (exit 1) after everything else is applied: the
 * firewall is up and closed, but a rule the admin wrote is not in force, and a script running
 * `tm3 restart && ...` must not take that for success.
 */
function failIfAdminFailed(count: number, file: string) {
  if (count) throw new Tm3Error(`${count} ADMIN SECTION line(s) of ${file} failed (named above); the rest of the firewall is in force`, `correct those lines in ${file}, then run tm3 restart`);
}
