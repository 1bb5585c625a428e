import type { Command } from 'commander';
import { loadState } from '../../ops/state.js';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('list')
    .description('list the whitelist entries')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await context();
      const { entries } = await loadState(ctx);
      const rows = entries.map((e) => ({ name: e.name, target: e.address?.cidr ?? e.host!, kind: e.host ? 'fqdn' : 'address', services: e.services, source: e.source, added: e.added }));
      if (opts.json) return ctx.out.json(rows);
      if (rows.length === 0) return ctx.out.line('no whitelist entries (add one with tm3 add-ip NAME ADDRESS)');
      table(ctx, ['NAME', 'TARGET', 'SERVICES', 'SOURCE'], rows.map((r) => [r.name, r.target, r.services.join(','), r.source]));
    });

  program
    .command('status')
    .description('entries with their current addresses, and whether the kernel matches the plan')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await context();
      const { status } = await import('../../ops/status.js');
      const { liveGrants } = await import('../../ops/grants.js');
      const s = { ...(await status(ctx)), grants: await liveGrants() };
      if (opts.json) return ctx.out.json(s);
      ctx.out.line(`firewall: ${s.firewall.active ? 'active' : 'NOT ACTIVE'} (IPv4 INPUT ${s.firewall.v4}, IPv6 INPUT ${s.firewall.v6})`);
      ctx.out.line(s.kernelMatchesPlan ? 'kernel: matches the whitelist' : `kernel: differs from the whitelist (run tm3 restart):\n  ${s.problems.join('\n  ')}`);
      if (s.entries.length) {
        table(ctx, ['NAME', 'TARGET', 'SERVICES', 'ADDRESSES', 'RESOLVED'], s.entries.map((e) => [
          e.name, e.target, e.services.join(','), e.addresses.join(' ') || '-',
          e.kind === 'address' ? '' : e.resolvedAgeSeconds == null ? 'never' : `${age(e.resolvedAgeSeconds)} ago${e.lastError ? ` (last try: ${e.lastError})` : ''}`,
        ]));
      }
      for (const e of s.entries) if (e.dropped?.length) ctx.out.line(`${e.name}: the last answer also held ${e.dropped.join(', ')}, not whitelisted`);
      const knocked = s.entries.filter((e) => e.source === 'knock' && Date.now() - Date.parse(e.added) < 3_600_000).length;
      if (ctx.config.knock.enabled && knocked >= ctx.config.knock.maxPermanentPerHour) ctx.out.line(`knock: ${knocked} permanent knock entries in the last hour reach [knock] max_permanent_per_hour; new knocks get timed grants only`);
      if (ctx.config.knock.enabled || s.grants.length) ctx.out.line((await import('./knock.js')).grantLines(s.grants));
      if (ctx.config.fail2ban.enabled) ctx.out.line(s.bans.length ? `banned by Fail2Ban: ${s.bans.join(' ')}` : 'banned by Fail2Ban: nobody');
      if (!s.kernelMatchesPlan) process.exitCode = 1;
    });
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

function table(ctx: Ctx, head: string[], rows: string[][]) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) ctx.out.line(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}
