import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('unban')
    .description('lift a Fail2Ban ban on ADDRESS: in the kernel and in every jail')
    .argument('<address>', 'a single IPv4 or IPv6 address')
    .option('-n, --dry-run', 'say whether it is banned, change nothing')
    .action(async (address: string, opts: { dryRun?: boolean }) => {
      const ctx = await context();
      if (!ctx.config.fail2ban.enabled) throw new InputError('Fail2Ban is switched off ([fail2ban] enabled = false): nothing is banned', 'set [fail2ban] enabled = true to use bans');
      const { unban } = await import('../../ops/fail2ban.js');
      const r = await unban(ctx, address, Boolean(opts.dryRun));
      if (opts.dryRun) return ctx.out.line(r.wasBanned ? `dry run: would lift the ban on ${r.address} (kernel and every jail)` : `dry run: ${r.address} is not banned`);
      if (r.wasBanned) await ctx.out.action(`unbanned ${r.address} (kernel and every jail)`);
      else ctx.out.line(`${r.address} was not banned in the kernel; cleared from every jail anyway`);
    });
}
