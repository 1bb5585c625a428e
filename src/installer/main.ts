#!/usr/bin/env node
import { Command } from 'commander';
import { validateRoot } from '../store/paths.js';
import { handleError } from '../cli/errors.js';
import { errorLine, Output } from '../cli/output.js';
import { VERSION } from '../version.js';

const program = new Command('tm3-install')
  .description("Install tm3 (Travelin' Man 3 rebuilt): after it, only whitelisted addresses can see this server")
  .version(VERSION)
  .option('--root <dir>', 'stage into DIR; no kernel or service changes unless --apply', '/')
  .option('--apply', 'with --root: apply the firewall in the current network namespace too')
  .option('-n, --dry-run', 'print the plan and the diffs, write nothing')
  .option('-y, --yes', 'accept the detected values (non-interactive runs)')
  .option('--no-packages', 'do not apt-get install iptables, ipset, netfilter-persistent, fail2ban, knockd, fwknop-server')
  .option('--admin-ip <addr>', 'the admin address to whitelist (default: from SSH_CONNECTION); repeat or comma-separate for v4 and v6', (v: string, prev: string[] = []) => [...prev, v])
  .option('--public-ip <addr>', 'the public address, instead of asking two HTTPS echo services')
  .option('--public-address <addr>', 'the same as --public-ip: the address users knock on, written to tm3.conf and knock.FAQ')
  .option('--no-public-ip', 'do not look the public address up')
  .option('--admin-contact <text>', 'whom users ask when knocking fails (name, phone or e-mail), shown in knock.FAQ')
  .option('--interface <name>', 'the interface facing the internet (default: the default route)')
  .option('--providers <ids>', "trusted VoIP providers to whitelist, comma separated ids from 'tm3 provider list' (default: none; asked on a terminal)")
  .option('--repair', 'finish an install that stopped half way')
  .option('--no-migrate', 'on a box with a legacy firewall, do not run tm3 migrate (its files are still backed up)')
  .option('--no-confirm', 'over SSH, do not ask for confirmation after applying')
  .option('--confirm-seconds <n>', 'how long to wait for that confirmation before rolling back', '60')
  .option('--uninstall', 'restore the files tm3 replaced, remove units, hooks and commands, and the kernel rules as found; your ADMIN SECTION is saved under /var/backups/tm3')
  .option('--sandbox', 'build a lab of network namespaces, install there and show the firewall working (nothing on the host changes)')
  .option('--keep', 'with --sandbox: leave the lab running')
  .exitOverride()
  .configureOutput({ outputError: (text) => process.stderr.write(`${errorLine(text.replace(/^error: /, '').trim(), 'see tm3-install --help', 'tm3-install')}\n`) });

interface Opts {
  root: string; apply?: boolean; dryRun?: boolean; yes?: boolean; packages: boolean; adminIp?: string[];
  publicIp?: string | false; publicAddress?: string; adminContact?: string; interface?: string; repair?: boolean; confirm: boolean; confirmSeconds: string; migrate: boolean;
  uninstall?: boolean; sandbox?: boolean; keep?: boolean; providers?: string;
}

try {
  program.parse(process.argv);
  const o = program.opts<Opts>();
  const out = new Output();
  const root = validateRoot(o.root);
  const apply = Boolean(o.apply) || root === '/';
  // a dry run writes nothing, the entry index (a cache) included
  if (o.dryRun) (await import('../store/entry-index.js')).disableIndexWrites();
  if (o.sandbox) {
    const { sandbox } = await import('./sandbox.js');
    process.exitCode = await sandbox({ keep: Boolean(o.keep) }, out);
  } else if (o.uninstall) {
    const { uninstall } = await import('./uninstall.js');
    process.exitCode = await uninstall(root, apply, out, Boolean(o.dryRun));
  } else {
    const { install } = await import('./install.js');
    const seconds = Number(o.confirmSeconds);
    process.exitCode = await install({
      root, apply, dryRun: Boolean(o.dryRun), yes: Boolean(o.yes), packages: o.packages, repair: Boolean(o.repair),
      adminIp: o.adminIp, publicIp: o.publicAddress ?? o.publicIp, adminContact: o.adminContact, interface: o.interface, confirm: o.confirm, migrate: o.migrate, providers: o.providers,
      confirmSeconds: Number.isInteger(seconds) && seconds > 0 ? seconds : 60,
    }, out);
  }
} catch (err) {
  process.exitCode = handleError(err, 'tm3-install');
}
