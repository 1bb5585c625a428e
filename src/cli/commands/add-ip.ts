import type { Command } from 'commander';
import { parseNet } from '../../model/address.js';
import { validateName } from '../../model/name.js';
import type { Entry } from '../../model/entry.js';
import type { Ctx } from '../context.js';
import { chooseServices, banOption } from './services-option.js';
import { reportChange } from './report.js';
import { guardOptions, addGuardOptions } from './guard-options.js';
import { checkArgOrder } from './arg-order.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  addGuardOptions(program
    .command('add-ip')
    .description('whitelist an IPv4/IPv6 address or network (the original add-ip)')
    .argument('<name>', 'entry name: letters, digits, . _ - (becomes NAME.iptables)')
    // optional to commander, so a missing one gets tm3's own error with the right form
    .argument('[address]', 'address or CIDR, e.g. 203.0.113.7 or 2001:db8::/48')
    .usage('[options] <name> <address>')
    .option('-s, --services <list>', "comma list from the catalog, or 'all' (default: menu on a terminal, else all)")
    .option('--replace', 'overwrite an existing entry of that name')
    .option('--ban <never|allow>', 'may Fail2Ban ban these addresses? (default: never for admin entries)')
    .option('-n, --dry-run', 'show the entry and the kernel change, change nothing'), 'also allows a network broader than /8 (IPv4) or /32 (IPv6)')
    .action(async (name: string, given: string | undefined, opts: { services?: string; ban?: string; force?: boolean; confirmSeconds?: string; replace?: boolean; dryRun?: boolean }) => {
      // Validate everything before the context touches disk, so bad input changes nothing.
      const address = checkArgOrder('add-ip', name, given);
      const entryName = validateName(name);
      const ban = banOption(opts.ban);
      const guard = guardOptions(opts);
      const net = parseNet(address, { force: opts.force });
      const ctx = await context();
      const { changeEntry } = await import('../../ops/entry-change.js');
      const services = await chooseServices(opts.services, ctx.config.catalog);
      const entry: Entry = { name: entryName, address: net, services, source: 'admin', added: new Date().toISOString(), ...ban };
      const result = await changeEntry(ctx, { add: entry, replace: opts.replace, guard, what: `replacing ${entryName}` }, Boolean(opts.dryRun));
      if (!opts.dryRun) await reportChange(ctx, `whitelisted ${entryName}: ${net.cidr} for ${services.join(',')}`, result);
    });
}
