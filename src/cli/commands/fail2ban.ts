import type { Command } from 'commander';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  const f2b = program.command('fail2ban').description("Fail2Ban's side of tm3");

  f2b.command('ignore')
    .description("Fail2Ban's ignorecommand: exit 0 if the address must never be banned, 1 if it may be")
    .argument('<ip>', 'the address Fail2Ban is about to count a failure for')
    .action(async (ip: string) => {
      // tm3's own failure (a typo in tm3.conf, an unreadable store) must never become a ban of
      // the admin: Fail2Ban reads any exit but 0 as "ban". So an error says "ignore", loudly.
      try {
        const { shouldIgnore } = await import('../../ops/fail2ban.js');
        const why = await shouldIgnore(await context(), ip);
        if (why) process.stdout.write(`${ip}: never banned (${why})\n`);
        process.exitCode = why ? 0 : 1;
      } catch (err) {
        const msg = `fail2ban ignore ${String(ip).slice(0, 45)}: tm3 could not decide (${(err as Error).message}); not banning on tm3's own failure`;
        process.stderr.write(`tm3: ${msg}\n`);
        await (await import('../../apply/system.js')).syslog(msg, 'err');
        process.exitCode = 0;
      }
    });

  f2b.command('test')
    .description('check the rendered Fail2Ban configuration (fail2ban-client -t)')
    .action(async () => {
      const ctx = await context();
      const { testConfig } = await import('../../apply/fail2ban.js');
      const r = await testConfig(ctx.paths);
      ctx.out.line((r.stdout || r.stderr).trim());
      process.exitCode = r.exitCode === 0 ? 0 : 1;
    });
}
