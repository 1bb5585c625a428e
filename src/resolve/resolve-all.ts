import type { Cache } from '../store/cache.js';
import { lookupHost, type DnsOptions, type HostAnswer } from './dns.js';
import { mergeAnswer } from './merge.js';

export interface ResolveReport {
  cache: Cache;
  failed: string[];
  changed: string[];
}

type Lookup = (host: string, opts: DnsOptions) => Promise<HostAnswer>;

/** Queries in flight never exceed this many times [dns] concurrency, slow ones included. */
const IN_FLIGHT_FACTOR = 4;

/**
 * Resolve every name with bounded concurrency and merge into the last-good cache.
 * A lookup still unanswered after `slowMs` (100 ms, less for short timeouts) is most likely waiting on an upstream that will
 * never answer: it keeps running but frees its slot, so 60 names behind a dead upstream cost
 * about one timeout of wall time instead of one per `concurrency` of them.
 */
export async function resolveAll(
  hosts: string[],
  prev: Cache,
  opts: DnsOptions & { concurrency: number; maxAddresses?: number; slowMs?: number; onProgress?: (done: number, total: number) => void; lookup?: Lookup },
): Promise<ResolveReport> {
  const lookup = opts.lookup ?? lookupHost;
  // a working resolver answers well within 100 ms; a name still waiting by then is the exception
  const slowMs = opts.slowMs ?? Math.max(20, Math.min(100, opts.timeoutMs / 4));
  const unique = [...new Set(hosts)];
  const cache: Cache = {};
  const failed: string[] = [];
  const changed: string[] = [];
  let next = 0;
  let done = 0;
  let slots = 0;
  let inFlight = 0;

  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (next < unique.length && slots < opts.concurrency && inFlight < opts.concurrency * IN_FLIGHT_FACTOR) start(unique[next++]);
      if (done === unique.length) resolve();
    };
    const start = (host: string) => {
      slots++;
      inFlight++;
      let holdsSlot = true;
      const freeSlot = () => { if (holdsSlot) { holdsSlot = false; slots--; } };
      const slow = setTimeout(() => { freeSlot(); pump(); }, slowMs);
      lookup(host, opts).then((answer) => {
        const rec = mergeAnswer(prev[host], answer, new Date().toISOString(), opts.maxAddresses);
        cache[host] = rec;
        if (rec.error) failed.push(host);
        const before = prev[host];
        if (!before || before.v4.join() !== rec.v4.join() || before.v6.join() !== rec.v6.join()) changed.push(host);
        clearTimeout(slow);
        freeSlot();
        inFlight--;
        done++; // not inside the ?.() call: that skips its arguments when there is no callback
        opts.onProgress?.(done, unique.length);
        pump();
      }, (err) => { clearTimeout(slow); reject(err); });
    };
    pump();
  });
  return { cache, failed: failed.sort(), changed: changed.sort() };
}
