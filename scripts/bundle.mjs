// Build step after tsc: the tm3 command (src/cli/main.ts and everything it imports, the
// dependencies too) as one ES module with a chunk per command, over dist/cli/main.js. Node then
// resolves and links a handful of files instead of hundreds, which at `tm3 list` is most of
// what it spends beyond its own start (issue 17). Chunks live in dist/cli/, two folders below
// the package root like every tsc-built file, so paths made from import.meta.url
// ('../../templates/') still find the package; src/version.ts and src/tm3-command.ts allow for
// the one-folder-up files. The installer (dist/installer/) stays as tsc builds it.
import { build } from 'esbuild';
import { readdirSync, rmSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const out = process.argv[2] ?? 'dist/cli';
for (const f of readdirSync(out)) if (/^chunk-[A-Z0-9]+\.js$/.test(f)) rmSync(`${out}/${f}`);

await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // Debian 12's Node
  target: 'node18.19',
  chunkNames: 'chunk-[hash]',
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS dependencies (commander, handlebars, ipaddr.js, semver) call require() for Node's
  // own modules, which an ES module has to be given
  banner: { js: "import { createRequire as __tm3Require } from 'node:module'; const require = __tm3Require(import.meta.url);" },
  logLevel: 'warning',
  plugins: [lazyChildProcess()],
});

// `tm3 list [--json]`, started by the bin without commander (src/cli/list-fast.ts): one file,
// no chunks, so Node loads one module for the listing scripts run most.
await build({
  entryPoints: ['src/cli/list-fast.ts'],
  outfile: `${out}/list-fast.js`,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node18.19',
  minifyWhitespace: true,
  minifySyntax: true,
  banner: { js: "import { createRequire as __tm3Require } from 'node:module'; const require = __tm3Require(import.meta.url);" },
  logLevel: 'warning',
  plugins: [lazyStaysOutside(out)],
});

// A module the listing imports only on a path it does not take (syslog for an action, the address
// filter) stays outside the file, imported from tsc's build when it is: bundled, its static
// imports (execa: child_process, streams) would load at start.
function lazyStaysOutside(outdir) {
  return {
    name: 'lazy-stays-outside',
    setup(b) {
      b.onResolve({ filter: /^\./ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        const target = path.resolve(args.resolveDir, args.path).replace(`${path.sep}src${path.sep}`, `${path.sep}dist${path.sep}`);
        let rel = path.relative(path.resolve(outdir), target).split(path.sep).join('/');
        if (!rel.startsWith('.')) rel = `./${rel}`;
        if (!existsSync(target.replace(`${path.sep}dist${path.sep}`, `${path.sep}src${path.sep}`).replace(/\.js$/, '.ts'))) throw new Error(`${args.path} from ${args.importer}: no such source`);
        return { path: rel, external: true };
      });
    },
  };
}

// commander requires node:child_process at load, for executable subcommands tm3 has none of; loading
// it is about 10 ms of every command's start. Here it is required when spawn is first called.
function lazyChildProcess() {
  const line = "const childProcess = require('node:child_process');";
  return {
    name: 'lazy-child-process',
    setup(b) {
      b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes(line)) throw new Error(`${args.path}: no "${line}" (a new commander? look again at this plugin)`);
        return { contents: text.replace(line, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };"), loader: 'js' };
      });
    },
  };
}
