import type { Cache } from '../store/cache.js';
import { lookupHost, type DnsOptions, type HostAnswer } from './dns.js';
import { mergeAnswer } from './merge.js';

export interface ResolveReport {
  cache: Cache;
  failed: string[];
  changed: string[];
}

type Lookup = (host: string, opts: DnsOptions) => Promise<HostAnswer>;

/** Resolve every name with bounded concurrency and merge into the last-good cache. */
export async function resolveAll(
  hosts: string[],
  prev: Cache,
  opts: DnsOptions & { concurrency: number; onProgress?: (done: number, total: number) => void; lookup?: Lookup },
): Promise<ResolveReport> {
  const lookup = opts.lookup ?? lookupHost;
  const unique = [...new Set(hosts)];
  const cache: Cache = {};
  const failed: string[] = [];
  const changed: string[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < unique.length) {
      const host = unique[next++];
      const now = new Date().toISOString();
      const rec = mergeAnswer(prev[host], await lookup(host, opts), now);
      cache[host] = rec;
      if (rec.error) failed.push(host);
      const before = prev[host];
      if (!before || before.v4.join() !== rec.v4.join() || before.v6.join() !== rec.v6.join()) changed.push(host);
      opts.onProgress?.(++done, unique.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, unique.length) }, worker));
  return { cache, failed: failed.sort(), changed: changed.sort() };
}
