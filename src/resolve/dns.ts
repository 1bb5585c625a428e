import { Resolver } from 'node:dns/promises';
import { parseHost } from '../model/address.js';
import type { DnsServer } from '../store/config.js';

/** One address family's outcome: addresses, an authoritative "none", or a failure. */
export type FamilyAnswer = { ok: true; addrs: string[] } | { ok: false; error: string };
export interface HostAnswer { v4: FamilyAnswer; v6: FamilyAnswer }

// Answers that mean "the name has no such records" rather than "we could not ask".
const EMPTY_CODES = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'NODATA']);

export interface DnsOptions { servers: DnsServer[]; timeoutMs: number }

/** A and AAAA for one name, in parallel, each bounded by the timeout. */
export async function lookupHost(host: string, opts: DnsOptions): Promise<HostAnswer> {
  const resolver = new Resolver({ timeout: opts.timeoutMs, tries: 1 });
  if (opts.servers.length) resolver.setServers(opts.servers.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)));
  // c-ares may retry past its own timeout; this guard keeps the wall time honest.
  const guard = setTimeout(() => resolver.cancel(), opts.timeoutMs + 250);
  try {
    const [a, aaaa] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    return { v4: toAnswer(a), v6: toAnswer(aaaa) };
  } finally {
    clearTimeout(guard);
  }
}

function toAnswer(r: PromiseSettledResult<string[]>): FamilyAnswer {
  if (r.status === 'rejected') {
    const code = (r.reason as NodeJS.ErrnoException)?.code ?? 'EFAIL';
    return EMPTY_CODES.has(code) ? { ok: true, addrs: [] } : { ok: false, error: code };
  }
  // A DNS answer is hostile input too: only unicast host addresses reach the kernel.
  const addrs = new Set<string>();
  for (const a of r.value) {
    try {
      addrs.add(parseHost(a, 'DNS answer').cidr);
    } catch { /* 0.0.0.0, multicast and the like are dropped */ }
  }
  return { ok: true, addrs: [...addrs].sort() };
}
