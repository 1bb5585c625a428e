#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { EXIT, Tm3Error } from '../model/errors.js';
import { VERSION } from '../version.js';
import { makeContext, type Ctx, type GlobalOpts } from './context.js';
import { errorLine } from './output.js';
import * as addIp from './commands/add-ip.js';
import * as addFqdn from './commands/add-fqdn.js';
import * as delAcct from './commands/del-acct.js';
import * as list from './commands/list.js';
import * as restart from './commands/restart.js';
import * as refresh from './commands/refresh.js';
import * as render from './commands/render.js';
import * as doctor from './commands/doctor.js';
import * as knock from './commands/knock.js';
import * as fail2ban from './commands/fail2ban.js';

const program = new Command('tm3')
  .description("Travelin' Man 3: a whitelist-first firewall for Asterisk PBX servers")
  .version(VERSION)
  .option('--root <dir>', 'prefix for every path tm3 reads or writes (env TM3_ROOT)', undefined)
  .option('-q, --quiet', 'print only warnings and errors')
  .exitOverride();

// Commander's own errors (unknown command, missing argument) in tm3's one-line form.
const oneLine = { outputError: (text: string) => process.stderr.write(`${errorLine(text.replace(/^error: /, '').trim(), 'see tm3 --help, or tm3 COMMAND --help')}\n`) };
program.configureOutput(oneLine);

const context = (): Promise<Ctx> => makeContext(program.opts<GlobalOpts>());
for (const cmd of [addIp, addFqdn, delAcct, list, restart, refresh, render, doctor, knock, fail2ban]) cmd.register(program, context);
const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
for (const c of everyCommand(program).slice(1)) c.exitOverride().configureOutput(oneLine);

/** The one catch: every failure becomes one line that names the fix, and a meaningful exit code. */
async function main(argv: string[]) {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code);
      process.exitCode = ok ? EXIT.ok : EXIT.usage;
      return;
    }
    if (err instanceof Tm3Error) {
      process.stderr.write(`${errorLine(err.message, err.fix)}\n`);
      if (err.detail && (process.env.TM3_DEBUG || err.exitCode !== EXIT.usage)) process.stderr.write(`${err.detail.replace(/^/gm, '  ')}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'EACCES' || e?.code === 'EPERM') {
      process.stderr.write(`${errorLine(`permission denied: ${e.message}`, 'run tm3 as root')}\n`);
      process.exitCode = EXIT.missing;
      return;
    }
    process.stderr.write(`${errorLine(`unexpected error: ${e?.message ?? String(err)}`, 'this is a tm3 bug; run again with TM3_DEBUG=1 and report the output')}\n`);
    if (process.env.TM3_DEBUG) process.stderr.write(`${e?.stack}\n`);
    process.exitCode = EXIT.failed;
  }
}

await main(process.argv);
