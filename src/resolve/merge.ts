import type { HostRecord } from '../store/cache.js';
import type { HostAnswer } from './dns.js';

/**
 * Last known good: a family is replaced only by a successful answer, and a name that
 * answers with no address at all (NXDOMAIN, empty) keeps what it had.
 */
export function mergeAnswer(prev: HostRecord | undefined, ans: HostAnswer, now: string): HostRecord {
  const old: HostRecord = prev ?? { v4: [], v6: [] };
  const gotAny = (ans.v4.ok && ans.v4.addrs.length > 0) || (ans.v6.ok && ans.v6.addrs.length > 0);
  if (!gotAny) {
    const why = [ans.v4, ans.v6].map((a) => (a.ok ? 'no records' : a.error)).join('/');
    return { ...old, triedAt: now, error: why };
  }
  return {
    v4: ans.v4.ok ? ans.v4.addrs : old.v4,
    v6: ans.v6.ok ? ans.v6.addrs : old.v6,
    okAt: now,
    triedAt: now,
  };
}
