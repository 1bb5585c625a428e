import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import { providerOfEntry, type Provider } from '../../model/provider.js';
import type { Cache } from '../../store/cache.js';
import type { Ctx } from '../context.js';
import { reportChange } from './report.js';
import { guardOptions, addGuardOptions } from './guard-options.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  const cmd = program.command('provider').description('trusted VoIP providers (SIP trunks) from the catalog: list, add, remove');

  cmd
    .command('list')
    .description('the provider catalog, and which providers are trusted now')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const { ctx, providers, entries } = await load(context);
      const { trustOf, entriesOf } = await import('../../ops/providers.js');
      const rows = providers.map((p) => ({
        id: p.id, name: p.name, services: p.services, wide: p.wide, note: p.note, file: p.file,
        trusted: trustOf(p, entries), entries: entriesOf(entries, p.id).map((e) => e.name),
        signalling: p.signalling.map((s) => ({ ...(s.address ? { address: s.address.cidr } : { host: s.host }), region: s.region, source: s.source, published: s.published })),
      }));
      // entries of a provider the catalog no longer lists still show, so they can be removed
      const known = new Set(providers.map((p) => p.id));
      const orphans = [...new Set(entries.filter((e) => e.source === 'provider').map((e) => providerOfEntry(e.name)).filter((id): id is string => Boolean(id) && !known.has(id!)))];
      if (opts.json) return ctx.out.json({ providers: rows, notInCatalog: orphans });
      const table = [['ID', 'NAME', 'SERVICES', 'SIGNALLING', 'TRUSTED'], ...rows.map((r) => [r.id, r.name, r.services.join(','), `${r.signalling.length} ${r.signalling.length === 1 ? 'address' : 'addresses'}${r.wide ? ' (wide)' : ''}`, r.trusted])];
      const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
      for (const r of table) ctx.out.line(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
      for (const id of orphans) ctx.out.line(`${id}: trusted, but no longer in the catalog (tm3 provider remove ${id})`);
      ctx.out.info('tm3 provider add ID trusts one; the addresses and where they were published: tm3 provider list --json');
    });

  addGuardOptions(cmd
    .command('add')
    .description("whitelist providers' signalling addresses (entries ID-1, ID-2, ... with source provider)")
    .argument('<id...>', "provider ids from 'tm3 provider list'")
    .option('--allow-wide', 'also trust a provider the catalog marks wide (more than a /16 of the internet)')
    .option('--allow-unresolved', 'add a provider hostname even if it does not resolve now')
    .option('-n, --dry-run', 'show the entries and the kernel change, change nothing'))
    .action(async (ids: string[], opts: { allowWide?: boolean; allowUnresolved?: boolean; dryRun?: boolean; force?: boolean; confirmSeconds?: string }) => {
      const guard = guardOptions(opts);
      const { ctx, providers, entries } = await load(context);
      const { pickProviders, planProviderAdd } = await import('../../ops/providers.js');
      const chosen = pickProviders(ids, providers);
      const plan = planProviderAdd(chosen, entries, ctx.config.catalog, { allowWide: opts.allowWide });
      for (const id of plan.already) ctx.out.info(`provider ${id} is already trusted: nothing to change`);
      if (plan.adds.length === 0) return;
      const hostRecords = await resolveHosts(ctx, plan.adds.flatMap((e) => (e.host ? [e.host] : [])), Boolean(opts.allowUnresolved));
      const { changeEntry } = await import('../../ops/entry-change.js');
      const added = [...new Set(plan.adds.map((e) => providerOfEntry(e.name)!))];
      const result = await changeEntry(ctx, { adds: plan.adds, remove: plan.removes, hostRecords, guard, what: `rewriting provider ${added.join(', ')}` }, Boolean(opts.dryRun));
      if (!opts.dryRun) await reportChange(ctx, `trusted provider ${added.join(', ')}: ${plan.adds.map((e) => `${e.name} ${e.address?.cidr ?? e.host}`).join(', ')} for ${plan.adds[0].services.join(',')}`, result);
    });

  addGuardOptions(cmd
    .command('remove')
    .description("remove a provider's entries (all of ID-1, ID-2, ... with source provider)")
    .argument('<id>', 'provider id')
    .option('-n, --dry-run', 'show which entries would go and the kernel change, change nothing'))
    .action(async (id: string, opts: { dryRun?: boolean; force?: boolean; confirmSeconds?: string }) => {
      const guard = guardOptions(opts);
      const ctx = await context();
      const { entries } = await (await import('../../ops/state.js')).loadState(ctx);
      const { pickProviders, entriesOf } = await import('../../ops/providers.js');
      const name = String(id).trim().toLowerCase();
      const trustedIds = entries.filter((e) => e.source === 'provider').map((e) => providerOfEntry(e.name)).filter((x): x is string => Boolean(x));
      // a trusted provider goes even if the catalog dropped it (or a local catalog is broken); a typo gets the nearest id
      if (!trustedIds.includes(name)) pickProviders([name], await (await import('../../store/providers.js')).loadProviders(ctx.paths), trustedIds);
      const names = entriesOf(entries, name).map((e) => e.name);
      if (names.length === 0) return ctx.out.info(`provider ${name} is not trusted: nothing to remove`);
      const { changeEntry } = await import('../../ops/entry-change.js');
      const result = await changeEntry(ctx, { remove: names, guard, what: `removing provider ${name}` }, Boolean(opts.dryRun));
      if (!opts.dryRun) await reportChange(ctx, `removed provider ${name}: ${names.join(', ')}`, result);
    });
}

async function load(context: () => Promise<Ctx>): Promise<{ ctx: Ctx; providers: Provider[]; entries: import('../../model/entry.js').Entry[] }> {
  const ctx = await context();
  const [{ loadProviders }, { loadState }] = await Promise.all([import('../../store/providers.js'), import('../../ops/state.js')]);
  const providers = await loadProviders(ctx.paths);
  const { entries } = await loadState(ctx);
  return { ctx, providers, entries };
}

/** Provider hostnames go through add-fqdn's checks: own addresses and hostile answers are dropped. */
async function resolveHosts(ctx: Ctx, hosts: string[], allowUnresolved: boolean): Promise<Cache> {
  if (hosts.length === 0) return {};
  const [{ lookupHost }, { mergeAnswer }, { ownAddresses }] = await Promise.all([import('../../resolve/dns.js'), import('../../resolve/merge.js'), import('../../ops/own-addresses.js')]);
  const own = await ownAddresses(ctx);
  const records: Cache = {};
  for (const host of hosts) {
    const record = mergeAnswer(undefined, await lookupHost(host, { ...ctx.config.dns, own }), new Date().toISOString(), ctx.config.dns.maxAddresses);
    for (const d of record.dropped ?? []) ctx.out.warn(`${host}: not whitelisting ${d}: no client has such an address`);
    if (record.error && !allowUnresolved) throw new InputError(`${host} does not resolve (${record.error})`, 'check the DNS servers in [dns], or pass --allow-unresolved to add the provider anyway');
    records[host] = record;
  }
  return records;
}
