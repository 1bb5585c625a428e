import { Resolver } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { parseHost } from '../model/address.js';
import type { DnsServer } from '../store/config.js';

/** One address family's outcome: addresses, an authoritative "none", or a failure. */
/** `dropped`: addresses the answer held that no admin could have meant ("127.0.0.1 (loopback)"). */
export type FamilyAnswer = { ok: true; addrs: string[]; dropped?: string[] } | { ok: false; error: string };
export interface HostAnswer { v4: FamilyAnswer; v6: FamilyAnswer }

// Answers that mean "the name has no such records" rather than "we could not ask".
const EMPTY_CODES = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'NODATA']);

/** `own`: the server's own addresses, which an answer may never whitelist. */
export interface DnsOptions { servers: DnsServer[]; timeoutMs: number; own?: string[] }

/** A and AAAA for one name, in parallel, each bounded by the timeout. */
export async function lookupHost(host: string, opts: DnsOptions): Promise<HostAnswer> {
  const resolver = new Resolver({ timeout: opts.timeoutMs, tries: 1 });
  if (opts.servers.length) resolver.setServers(opts.servers.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)));
  // c-ares may retry past its own timeout; this guard keeps the wall time honest.
  const guard = setTimeout(() => resolver.cancel(), opts.timeoutMs + 250);
  try {
    const [a, aaaa] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    const own = new Set(opts.own ?? []);
    return { v4: toAnswer(a, own), v6: toAnswer(aaaa, own) };
  } finally {
    clearTimeout(guard);
  }
}

// An FQDN entry whitelists only what an admin could have typed: never the box itself or a
// neighbour on its link, whatever a hostile DNS server answers.
const NOT_A_CLIENT = new Set(['loopback', 'linkLocal']);

function toAnswer(r: PromiseSettledResult<string[]>, own: Set<string>): FamilyAnswer {
  if (r.status === 'rejected') {
    const code = (r.reason as NodeJS.ErrnoException)?.code ?? 'EFAIL';
    return EMPTY_CODES.has(code) ? { ok: true, addrs: [] } : { ok: false, error: code };
  }
  // A DNS answer is hostile input too: only unicast host addresses reach the kernel.
  const addrs = new Set<string>();
  const dropped: string[] = [];
  for (const a of r.value) {
    try {
      const net = parseHost(a, 'DNS answer');
      const range = ipaddr.parse(net.address).range();
      if (NOT_A_CLIENT.has(range)) dropped.push(`${net.address} (${range})`);
      else if (own.has(net.address)) dropped.push(`${net.address} (this server)`);
      else addrs.add(net.cidr);
    } catch (e) {
      // 0.0.0.0, multicast, broadcast, IPv4-mapped and the like
      dropped.push(`${String(a).slice(0, 45)} (${/is an? (\S+) address/.exec((e as Error).message)?.[1] ?? 'not an address'})`);
    }
  }
  return { ok: true, addrs: [...addrs].sort(), ...(dropped.length ? { dropped } : {}) };
}
