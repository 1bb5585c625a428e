import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../apply/run.js';
import { writeIfChanged } from '../store/files.js';
import type { Paths } from '../store/paths.js';

/** The package this code runs from (the npx cache, a clone, or an installed copy). */
export const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED = ['package.json', 'README.md', 'dist', 'templates', 'hooks', 'installer', 'providers'];

export const runtimeDir = (paths: Paths) => paths.at('/usr/local/lib/tm3');
export const tm3Bin = (paths: Paths) => paths.at('/usr/local/sbin/tm3');

/** Runtime dependencies only, as npm resolved them (nested versions kept where they are). */
async function runtimeModules(): Promise<string[]> {
  const r = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { allowFail: true, cwd: PACKAGE_DIR }).catch(() => undefined);
  const dirs = (r?.stdout ?? '').split('\n').filter((d) => d.startsWith(path.join(PACKAGE_DIR, 'node_modules')));
  return dirs.length ? dirs : [path.join(PACKAGE_DIR, 'node_modules')];
}

/**
 * Copy tm3 to /usr/local/lib/tm3 (never run from the npx cache, which goes away) and put
 * /usr/local/sbin/tm3 in front of it. A re-run replaces the copy; returns what it placed.
 */
export async function placeRuntime(paths: Paths): Promise<string[]> {
  const dest = runtimeDir(paths);
  if (path.resolve(dest) !== path.resolve(PACKAGE_DIR)) {
    const stage = `${dest}.new`;
    await fs.rm(stage, { recursive: true, force: true });
    await fs.mkdir(stage, { recursive: true });
    for (const item of SHIPPED) {
      await fs.cp(path.join(PACKAGE_DIR, item), path.join(stage, item), { recursive: true }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
    }
    for (const dir of await runtimeModules()) {
      await fs.cp(dir, path.join(stage, path.relative(PACKAGE_DIR, dir)), { recursive: true, dereference: true });
    }
    await fs.rm(dest, { recursive: true, force: true });
    await fs.rename(stage, dest);
  }
  const root = paths.root === '/' ? '' : ` --root ${paths.root}`;
  await writeIfChanged(tm3Bin(paths), `#!/bin/sh\n# tm3, installed by tm3-install. Runs the copy in /usr/local/lib/tm3.\nexec ${process.execPath} ${path.join(dest, 'dist/cli/tm3.js')}${root} "$@"\n`, 0o755);
  await fs.chmod(tm3Bin(paths), 0o755);
  return [dest, tm3Bin(paths)];
}
