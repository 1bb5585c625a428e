import { fileURLToPath } from 'node:url';
import { parseProviderCatalog, type Provider } from '../model/provider.js';
import { InputError } from '../model/errors.js';
import { readText } from './files.js';
import type { Paths } from './paths.js';

/** The catalog shipped in the package (replaced on upgrade). */
export const SHIPPED_PROVIDERS = fileURLToPath(new URL('../../providers/providers.json', import.meta.url));
/** The admin's additions and corrections, under the root: a provider with a shipped id replaces it. */
export const localProviders = (paths: Paths) => paths.at('/etc/tm3/providers.json');

/** Shipped catalog, then the local file; either one invalid refuses the whole catalog. */
export async function loadProviders(paths: Paths, shipped = SHIPPED_PROVIDERS): Promise<Provider[]> {
  const base = await readText(shipped);
  if (base === undefined) throw new InputError(`the provider catalog ${shipped} is missing`, 'reinstall tm3 (npx tm3-install), which ships it');
  const merged = new Map(parseProviderCatalog(base, shipped).map((p) => [p.id, p]));
  const file = localProviders(paths);
  const local = await readText(file, { trusted: true });
  if (local !== undefined) for (const p of parseProviderCatalog(local, paths.inServer(file))) merged.set(p.id, p);
  return [...merged.values()];
}
