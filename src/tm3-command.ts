import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where tm3-install puts the runtime (the installer's runtime.ts copies the package there). */
export const INSTALLED_CLI = '/usr/local/lib/tm3/dist/cli/main.js';

/**
 * How generated files (units, hooks, knockd, Fail2Ban, wrappers) call tm3: absolute node and
 * entry point, plus the root when it is not /, so a staged system works in place. Once tm3 is
 * installed under the root, that copy: a tm3 run from a clone or the npx cache (which goes away)
 * must not re-point the box at itself. Only a root with no installed copy (a lab, a bare
 * `tm3 --root EMPTYDIR restart`) gets the running one.
 */
export function tm3Command(root: string): string {
  const installed = path.join(root, INSTALLED_CLI);
  const cli = fs.existsSync(installed) ? installed : runningCli();
  return [process.execPath, cli, ...(root === '/' ? [] : ['--root', root])].join(' ');
}

/** dist/cli/main.js of this package: next to dist/tm3-command.js as tsc builds it, or beside the bundled CLI's chunk in dist/cli/. */
function runningCli(): string {
  const own = fileURLToPath(new URL('./cli/main.js', import.meta.url));
  const bundled = fileURLToPath(new URL('./main.js', import.meta.url));
  return !fs.existsSync(own) && path.basename(path.dirname(bundled)) === 'cli' && fs.existsSync(bundled) ? bundled : own;
}
