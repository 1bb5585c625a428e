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
  await import('./main.js');
}
