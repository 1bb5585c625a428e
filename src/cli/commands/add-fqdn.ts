import type { Command } from 'commander';
import { validateHostname } from '../../model/hostname.js';
import { validateName } from '../../model/name.js';
import { InputError } from '../../model/errors.js';
import type { Entry } from '../../model/entry.js';
import { mergeAnswer } from '../../resolve/merge.js';
import type { Ctx } from '../context.js';
import { chooseServices, banOption } from './services-option.js';
import { reportChange } from './report.js';
import { guardOptions, addGuardOptions } from './guard-options.js';
import { checkArgOrder } from './arg-order.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  addGuardOptions(program
    .command('add-fqdn')
    .description('whitelist a (dynamic) DNS name; re-resolved by tm3 refresh every 10 minutes')
    .argument('<name>', 'entry name: letters, digits, . _ - (becomes NAME.iptables)')
    .argument('[hostname]', 'fully-qualified name, e.g. home.dyndns.example.org')
    .usage('[options] <name> <hostname>')
    .option('-s, --services <list>', "comma list from the catalog, or 'all' (default: menu on a terminal, else all)")
    .option('--allow-unresolved', 'add the name even if it does not resolve now')
    .option('--replace', 'overwrite an existing entry of that name')
    .option('--ban <never|allow>', 'may Fail2Ban ban these addresses? (default: never for admin entries)')
    .option('-n, --dry-run', 'show the entry and the kernel change, change nothing'))
    .action(async (name: string, given: string | undefined, opts: { services?: string; ban?: string; allowUnresolved?: boolean; replace?: boolean; dryRun?: boolean; force?: boolean; confirmSeconds?: string }) => {
      const hostname = checkArgOrder('add-fqdn', name, given);
      const entryName = validateName(name);
      const ban = banOption(opts.ban);
      const guard = guardOptions(opts);
      const host = validateHostname(hostname);
      const ctx = await context();
      const [{ lookupHost }, { changeEntry }, { ownAddresses }] = await Promise.all([import('../../resolve/dns.js'), import('../../ops/entry-change.js'), import('../../ops/own-addresses.js')]);
      const answer = await lookupHost(host, { ...ctx.config.dns, own: await ownAddresses(ctx) });
      const record = mergeAnswer(undefined, answer, new Date().toISOString(), ctx.config.dns.maxAddresses);
      for (const d of record.dropped ?? []) ctx.out.warn(`${host}: not whitelisting ${d}: no client has such an address`);
      if (record.error && !opts.allowUnresolved) {
        throw new InputError(`${host} does not resolve (${record.error})`, 'check the spelling and the DNS servers in [dns], or pass --allow-unresolved to add it anyway');
      }
      const services = await chooseServices(opts.services, ctx.config.catalog);
      const entry: Entry = { name: entryName, host, services, source: 'admin', added: new Date().toISOString(), ...ban };
      const result = await changeEntry(ctx, { add: entry, replace: opts.replace, hostRecord: record, guard, what: `replacing ${entryName}` }, Boolean(opts.dryRun));
      const addrs = [...record.v4, ...record.v6];
      if (!opts.dryRun) await reportChange(ctx, `whitelisted ${entryName}: ${host} (${addrs.join(', ') || 'unresolved for now'}) for ${services.join(',')}`, result);
    });
}
