import type { HostRecord } from '../store/cache.js';
import type { HostAnswer } from './dns.js';

/**
 * Last known good: a family is replaced only by a successful answer, and a name that
 * answers with no address at all (NXDOMAIN, empty) keeps what it had. So does an answer with
 * more addresses than one name may add (`max`): a flood of records is not an update.
 */
export function mergeAnswer(prev: HostRecord | undefined, ans: HostAnswer, now: string, max = Infinity): HostRecord {
  const old: HostRecord = prev ?? { v4: [], v6: [] };
  const dropped = [ans.v4, ans.v6].flatMap((a) => (a.ok ? a.dropped ?? [] : []));
  const extra = dropped.length ? { dropped } : {};
  const gotAny = (ans.v4.ok && ans.v4.addrs.length > 0) || (ans.v6.ok && ans.v6.addrs.length > 0);
  if (!gotAny) {
    const why = [ans.v4, ans.v6].map((a) => (a.ok ? 'no records' : a.error)).join('/');
    return { ...old, triedAt: now, error: dropped.length ? `only addresses no client can have: ${dropped.join(', ')}` : why, ...extra };
  }
  const v4 = ans.v4.ok ? ans.v4.addrs : old.v4;
  const v6 = ans.v6.ok ? ans.v6.addrs : old.v6;
  if (v4.length + v6.length > max) {
    return { ...old, triedAt: now, error: `the answer has ${v4.length + v6.length} addresses, over [dns] max_addresses (${max}); the last good ones stay`, ...extra };
  }
  return { v4, v6, okAt: now, triedAt: now, ...extra };
}
