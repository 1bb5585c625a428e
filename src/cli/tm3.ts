#!/usr/bin/env node
// tm3's bin. A bare `tm3 --version` is answered here, before commander and the command
// modules load (linking them costs more than Node's own start); every other call is the
// program in main.js, unchanged. Generated files call main.js directly: they never ask
// for the version.
import { readFileSync } from 'node:fs';

// `--root DIR` and `--quiet` do not change the answer (the lab and staged systems pass --root).
const args = process.argv.slice(2);
const rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--root') i++;
  else if (!args[i].startsWith('--root=') && args[i] !== '-q' && args[i] !== '--quiet') rest.push(args[i]);
}
if (rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`${pkg.version}\n`);
} else {
  await import('./main.js');
}
