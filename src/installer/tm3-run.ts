import path from 'node:path';
import { execa } from 'execa';
import { Tm3Error } from '../model/errors.js';
import type { Paths } from '../store/paths.js';
import { runtimeDir } from './runtime.js';

/**
 * Run the installed tm3 (not this copy), so every generated file points at
 * /usr/local/lib/tm3 and not at the npx cache.
 */
export async function installedTm3(paths: Paths, args: string[], opts: { allowFail?: boolean } = {}) {
  const cli = path.join(runtimeDir(paths), 'dist/cli/main.js');
  const r = await execa(process.execPath, [cli, '--root', paths.root, ...args], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0 && !opts.allowFail) {
    throw new Tm3Error(`tm3 ${args.join(' ')} failed: ${String(r.stderr).trim().split('\n')[0]}`, 'the previous firewall state is still in force; fix the cause, then run tm3-install --repair', 1, String(r.stderr));
  }
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? 1 };
}
