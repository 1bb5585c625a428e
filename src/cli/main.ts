#!/usr/bin/env node
import { Command } from 'commander';
import { handleError } from './errors.js';
import { VERSION } from '../version.js';
import { makeContext, type Ctx, type GlobalOpts } from './context.js';
import { errorLine, writeOut } from './output.js';
import { modulesFor } from './command-table.js';

const program = new Command('tm3')
  .description("Travelin' Man 3: a whitelist-first firewall for Asterisk PBX servers")
  .version(VERSION)
  .option('--root <dir>', 'prefix for every path tm3 reads or writes (env TM3_ROOT)', undefined)
  .option('-q, --quiet', 'print only warnings and errors')
  .exitOverride();

// Commander's own errors (unknown command, missing argument) in tm3's one-line form.
// Help goes through writeOut, as everything tm3 prints does (a reader gone is not an error).
const oneLine = { writeOut, outputError: (text: string) => process.stderr.write(`${errorLine(text.replace(/^error: /, '').trim(), 'see tm3 --help, or tm3 COMMAND --help')}\n`) };
program.configureOutput(oneLine);

// Each command imports its work inside its action (await import), so a command loads only what it
// runs: tm3 list and tm3 knock grant start without Handlebars, and list without execa.
const context = (): Promise<Ctx> => makeContext(program.opts<GlobalOpts>());
// Only the module of the command named is loaded (command-table.ts); help or a typo loads all.
for (const cmd of await modulesFor(process.argv)) cmd.register(program, context);
// A dry run writes nothing, the entry index (a cache) included.
program.hook('preAction', async (_p, action) => {
  if (action.opts().dryRun) (await import('../store/entry-index.js')).disableIndexWrites();
});
const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
// `tm3 add-ip x 198.51.100.9 sip` must not quietly whitelist every port: extra words are an error.
for (const c of everyCommand(program).slice(1)) c.exitOverride().configureOutput(oneLine).allowExcessArguments(false);

try {
  await program.parseAsync(process.argv);
  // the entry index (a cache) only after the command succeeded: a failed one leaves the disk as it was
  await (await import('../store/entry-index.js')).flushIndex();
} catch (err) {
  process.exitCode = handleError(err, 'tm3');
}
