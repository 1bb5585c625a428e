import { fileURLToPath } from 'node:url';

/**
 * How generated files (units, hooks) call tm3: absolute node and entry point, plus the root
 * when it is not /, so a staged system works in place.
 */
export function tm3Command(root: string): string {
  const cli = fileURLToPath(new URL('./cli/main.js', import.meta.url));
  return [process.execPath, cli, ...(root === '/' ? [] : ['--root', root])].join(' ');
}
