import { readFileSync } from 'node:fs';

// The package's own package.json, one or two folders up: dist/version.js from tsc, or a chunk of
// the bundled CLI in dist/cli/ (scripts/bundle.mjs).
function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tm3-install' && typeof pkg.version === 'string') return pkg.version;
    } catch { /* not this one */ }
  }
  throw new Error('tm3: package.json not found next to the program');
}

export const VERSION: string = packageVersion();
