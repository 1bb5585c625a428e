import type { Command } from 'commander';
import { selectEntries, printEntries, table } from '../list-entries.js';
import type { Ctx } from '../context.js';
import type { Entry } from '../../model/entry.js';
import type { Cache } from '../../store/cache.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('list')
    .description('list the whitelist entries (with ADDRESS: those that hold or cover it)')
    .argument('[address]', 'an address or CIDR: only the entries that hold or cover it (an fqdn entry at its last answer); or a hostname')
    .option('--stale <age>', 'only entries no packet has used for AGE (30d, 12h, 2w), from the kernel\'s hit counters')
    .option('--json', 'machine-readable output')
    .action(async (address: string | undefined, opts: { json?: boolean; stale?: string }) => {
      const filter = address === undefined ? undefined : (await import('../../ops/filter.js')).parseFilter(address);
      const { parseAge } = await import('../../plan/usage.js');
      const staleFor = opts.stale === undefined ? undefined : parseAge(opts.stale);
      const ctx = await context();
      const { entries, cache } = await selectEntries(ctx, filter);
      if (staleFor !== undefined) return listStale(ctx, entries, cache, staleFor, opts.stale!, Boolean(opts.json));
      printEntries(ctx, entries, filter, Boolean(opts.json));
    });

  program
    .command('status')
    .description('entries with their current addresses, grants, bans, and whether the kernel matches the plan (with ADDRESS: only what holds or covers it)')
    .argument('[address]', 'an address or CIDR: only the entries, grants and bans that hold or cover it; or a hostname')
    .option('--json', 'machine-readable output')
    .action(async (address: string | undefined, opts: { json?: boolean }) => {
      const { parseFilter, entryMatches, addressMatches } = await import('../../ops/filter.js');
      const filter = address === undefined ? undefined : parseFilter(address);
      const ctx = await context();
      const { status } = await import('../../ops/status.js');
      const { liveGrants, withPeople } = await import('../../ops/grants.js');
      const all = { ...(await status(ctx)), grants: await withPeople(ctx.paths, await liveGrants()) };
      const entries = filter ? all.entries.filter((e) => entryMatches(filter, e.kind === 'fqdn' ? e.target : undefined, e.addresses)) : all.entries;
      const at = (a: string) => !filter || addressMatches(filter, a, entries.flatMap((e) => e.addresses));
      const s = { ...all, entries, grants: all.grants.filter((g) => at(g.address)), bans: all.bans.filter(at), banDetails: all.banDetails.filter((b) => at(b.address)) };
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
      const knocked = all.entries.filter((e) => e.source === 'knock' && Date.now() - Date.parse(e.added) < 3_600_000).length;
      if (ctx.config.knock.enabled && knocked >= ctx.config.knock.maxPermanentPerHour) ctx.out.line(`knock: ${knocked} permanent knock entries in the last hour reach [knock] max_permanent_per_hour; new knocks get timed grants only`);
      if (ctx.config.knock.enabled || s.grants.length) ctx.out.line((await import('./knock.js')).grantLines(s.grants));
      if (ctx.config.fail2ban.enabled || s.bans.length) {
        if (!s.bans.length) ctx.out.line('banned by Fail2Ban: nobody');
        else {
          const { duration } = await import('../../ops/why.js');
          ctx.out.line('banned by Fail2Ban:');
          table(ctx, ['  ADDRESS', 'JAIL', 'NOTE'], s.banDetails.map((b) => [
            `  ${b.address}`,
            b.jails.map((j) => `${j.jail} (${duration(j.secondsLeft)} left)`).join(', ') || 'kernel set only (no running jail)',
            b.whitelisted.length ? `WHITELISTED (${b.whitelisted.join(', ')}) AND BANNED: the ban wins; tm3 unban ${b.address}` : '',
          ]));
        }
      }
      if (!s.kernelMatchesPlan) process.exitCode = 1;
    });
}

/** `tm3 list --stale AGE`: the kernel's counters now, against the last look the refresh timer kept. */
async function listStale(ctx: Ctx, entries: Entry[], cache: Cache, seconds: number, text: string, json: boolean) {
  const { observe, entryUse, staleEntries } = await import('../../plan/usage.js');
  const { readUsage } = await import('../../store/usage.js');
  const { readSetState } = await import('../../apply/ipset.js');
  const now = new Date();
  const usage = observe(await readUsage(ctx.paths), (await readSetState()).hits, now.toISOString());
  const uses = entryUse(entries, cache, usage);
  const stale = staleEntries(uses, now.getTime(), seconds);
  const uncounted = uses.filter((u) => !u.counted).map((u) => u.name);
  if (json) return ctx.out.json({ since: usage.since, stale, uncounted });
  if (uncounted.length) ctx.out.warn(`no hit counters yet for ${uncounted.join(', ')} (their sets predate counters: tm3 restart converts them)`);
  if (stale.length === 0) return ctx.out.line(`no entry unused for ${text} (counting since ${usage.since})`);
  table(ctx, ['NAME', 'TARGET', 'SERVICES', 'SOURCE', 'LAST USED'], stale.map((u) => [u.name, u.target, u.services.join(','), u.source, u.lastUsed ? `${age(Math.round((now.getTime() - Date.parse(u.lastUsed)) / 1000))} ago` : `never since ${u.quietSince}`]));
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

