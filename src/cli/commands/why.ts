import type { Command } from 'commander';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('why')
    .description('would a packet from ADDRESS be accepted, and why: from the kernel as it is now (csf -g)')
    .argument('<address>', 'a single IPv4 or IPv6 address')
    .argument('[port]', 'PROTO/PORT, e.g. udp/5060 (default: every service of the catalog)')
    .option('--json', 'machine-readable output')
    .action(async (address: string, port: string | undefined, opts: { json?: boolean }) => {
      const { parseHost } = await import('../../model/address.js');
      const { why, parsePortArg } = await import('../../ops/why.js');
      // bad input is refused before anything is read
      parseHost(address, 'address');
      if (port !== undefined) parsePortArg(port);
      const ctx = await context();
      const w = await why(ctx, address, port);
      if (opts.json) return ctx.out.json(w);
      ctx.out.line(w.summary);
      if (w.port === null) {
        // one line per reason, with the services it gives or refuses
        const groups = new Map<string, Set<string>>();
        for (const c of w.checks) {
          const key = `${c.accepted ? 'accepted' : 'dropped'}: ${c.text}`;
          groups.set(key, (groups.get(key) ?? new Set()).add(c.service ?? `${c.proto}/${c.port}`));
        }
        for (const [key, svcs] of groups) ctx.out.line(`  ${[...svcs].join(',')} ${key}`);
      }
      for (const e of w.entries) ctx.out.line(`  entry ${e.name}: ${e.target}, services ${e.services.join(',')}, source ${e.source}${e.family ? `, IPv${e.family} only` : ''}${e.answer ? `, last answer ${e.answer.addresses.join(' ') || 'none'}${e.answer.okAt ? ` (${e.answer.okAt})` : ''}` : ''}`);
      if (w.grant) ctx.out.line(`  live knock grant: ${(await import('../../ops/why.js')).duration(w.grant.secondsLeft)} left${w.grant.people ? `, for ${w.grant.people.join(', ')}` : ''}`);
      if (w.ban?.inKernel || w.ban?.jails.length) {
        const { duration } = await import('../../ops/why.js');
        ctx.out.line(`  banned by Fail2Ban: ${w.ban.jails.map((j) => `jail ${j.jail}, ${duration(j.secondsLeft)} left`).join('; ') || 'in the kernel set only'}${w.entries.length ? ' (also whitelisted: the ban comes first)' : ''}`);
      }
      for (const d of w.drift) ctx.out.line(`  kernel and files disagree: ${d}`);
      for (const f of w.fixes) ctx.out.line(`  to let it in: ${f}`);
    });
}
