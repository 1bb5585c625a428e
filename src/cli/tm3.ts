#!/usr/bin/env node
// tm3's bin. A bare `tm3 --version` is answered here, before commander and the command
// modules load (linking them costs more than Node's own start); every other call is the
// program in main.js, unchanged. Generated files call main.js directly: they never ask
// for the version.
import { readFileSync, writeSync } from 'node:fs';

// `--root DIR` and `--quiet` do not change the answer (the lab and staged systems pass --root).
const args = process.argv.slice(2);
const rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--root') i++;
  else if (!args[i].startsWith('--root=') && args[i] !== '-q' && args[i] !== '--quiet') rest.push(args[i]);
}
/**
 * `tm3 [--root DIR] [-q] list [--json]` and nothing else: the options it was given, for
 * list-fast.js; any other shape (an address, --stale, --help, an option twice) goes to main.js.
 */
function listOnly(): { root?: string; quiet: boolean; json: boolean } | undefined {
  let root: string | undefined;
  let quiet = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--root' && root === undefined && i + 1 < args.length && args[i + 1] !== '' && !args[i + 1].startsWith('-')) root = args[++i];
    else if (a.startsWith('--root=') && a.length > 7 && root === undefined) root = a.slice(7);
    else if (a === '-q' || a === '--quiet') quiet = true;
    else break;
  }
  const tail = args.slice(i);
  if (tail[0] !== 'list' || tail.length > 2 || (tail.length === 2 && tail[1] !== '--json')) return undefined;
  return { root, quiet, json: tail.length === 2 };
}

if (rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  // straight to the descriptor: process.stdout's stream would cost more than the rest (see output.ts)
  try { writeSync(1, `${pkg.version}\n`); } catch { /* a reader gone: nothing to say */ }
} else {
  // A short-lived command, not a server: let the old generation grow by 30% between full
  // collections instead of V8's default of up to several times. With 20,000 entries most of the
  // heap at the peak is garbage (the live heap is about 25 MB), and this keeps a restart's peak
  // RSS about 18 MB lower for a few more milliseconds of collection.
  (await import('node:v8')).setFlagsFromString('--heap-growing-percent=30');
  const list = listOnly();
  if (list) await (await import('./list-fast.js')).listFast({ root: list.root, quiet: list.quiet }, list.json);
  else await import('./main.js');
}
