import type { Command } from 'commander';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('doctor')
    .description('check everything that could weaken the firewall; exit 1 with one line per problem')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await context();
      const { doctor } = await import('../../ops/doctor.js');
      const problems = await doctor(ctx);
      if (opts.json) ctx.out.json({ healthy: problems.length === 0, problems });
      else if (problems.length === 0) ctx.out.ok('tm3 doctor: healthy');
      else for (const p of problems) ctx.out.line(`problem: ${p}`);
      if (problems.length) process.exitCode = 1;
    });
}
