import { readText, writeAtomic } from './files.js';
import type { Paths } from './paths.js';

/** Last good answer per hostname. Addresses are canonical CIDR strings (/32, /128). */
export interface HostRecord {
  v4: string[];
  v6: string[];
  /** last time a lookup succeeded (ISO) */
  okAt?: string;
  /** last time a lookup was tried (ISO) */
  triedAt?: string;
  /** why the last lookup failed, if it did */
  error?: string;
  /** what the last answer held that tm3 refused to whitelist, and why */
  dropped?: string[];
}
export type Cache = Record<string, HostRecord>;

/** A corrupt cache is not fatal: the next refresh rebuilds it. */
export async function readCache(paths: Paths): Promise<{ cache: Cache; warning?: string }> {
  const text = await readText(paths.cache);
  if (text === undefined) return { cache: {} };
  try {
    const data = JSON.parse(text) as { hosts?: Cache };
    const hosts = data && typeof data === 'object' && data.hosts && typeof data.hosts === 'object' ? data.hosts : null;
    if (!hosts) throw new Error('no hosts table');
    const cache: Cache = {};
    for (const [host, rec] of Object.entries(hosts)) {
      if (rec && Array.isArray(rec.v4) && Array.isArray(rec.v6)) cache[host] = rec;
    }
    return { cache };
  } catch (err) {
    return { cache: {}, warning: `resolved-address cache ${paths.cache} is corrupt (${(err as Error).message}); it will be rebuilt` };
  }
}

export const cacheText = (cache: Cache) => `${JSON.stringify({ version: 1, hosts: cache }, null, 1)}\n`;

export async function writeCache(paths: Paths, cache: Cache): Promise<void> {
  await writeAtomic(paths.cache, cacheText(cache), 0o600);
}
