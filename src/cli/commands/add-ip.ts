import type { Command } from 'commander';
import { parseNet } from '../../model/address.js';
import { validateName } from '../../model/name.js';
import type { Entry } from '../../model/entry.js';
import type { Ctx } from '../context.js';
import { chooseServices, banOption } from './services-option.js';
import { reportChange } from './report.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  program
    .command('add-ip')
    .description('whitelist an IPv4/IPv6 address or network (the original add-ip)')
    .argument('<name>', 'entry name: letters, digits, . _ - (becomes NAME.iptables)')
    .argument('<address>', 'address or CIDR, e.g. 203.0.113.7 or 2001:db8::/48')
    .option('-s, --services <list>', "comma list from the catalog, or 'all' (default: menu on a terminal, else all)")
    .option('--force', 'allow a network broader than /8 (IPv4) or /32 (IPv6)')
    .option('--replace', 'overwrite an existing entry of that name')
    .option('--ban <never|allow>', 'may Fail2Ban ban these addresses? (default: never for admin entries)')
    .option('-n, --dry-run', 'show the entry and the kernel change, change nothing')
    .action(async (name: string, address: string, opts: { services?: string; ban?: string; force?: boolean; replace?: boolean; dryRun?: boolean }) => {
      // Validate everything before the context touches disk, so bad input changes nothing.
      const entryName = validateName(name);
      const ban = banOption(opts.ban);
      const net = parseNet(address, { force: opts.force });
      const ctx = await context();
      const { changeEntry } = await import('../../ops/entry-change.js');
      const services = await chooseServices(opts.services, ctx.config.catalog);
      const entry: Entry = { name: entryName, address: net, services, source: 'admin', added: new Date().toISOString(), ...ban };
      const result = await changeEntry(ctx, { add: entry, replace: opts.replace }, Boolean(opts.dryRun));
      if (!opts.dryRun) await reportChange(ctx, `whitelisted ${entryName}: ${net.cidr} for ${services.join(',')}`, result);
    });
}
