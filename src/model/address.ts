import ipaddr from 'ipaddr.js';
import { InputError } from './errors.js';

export type Family = 4 | 6;

/** A validated network in canonical text form (no host bits, no zone, no leading zeros). */
export interface Net {
  family: Family;
  /** canonical, e.g. "192.0.2.7/32", "2001:db8::/48" */
  cidr: string;
  /** the address part, canonical */
  address: string;
  prefix: number;
}

const V4_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const V4_RE = new RegExp(`^${V4_OCTET}(?:\\.${V4_OCTET}){3}$`);
const V6_CHARS = /^[0-9A-Fa-f:.]+$/;
const PREFIX_RE = /^(?:0|[1-9][0-9]{0,2})$/;

// Refusals that no --force lifts: they would whitelist the world or nothing sensible.
// ('reserved' is not among them: ipaddr.js files the documentation ranges the lab uses there.)
const NEVER_RANGES = new Set(['unspecified', 'multicast', 'broadcast', 'ipv4Mapped']);
const CLASS_E = ipaddr.parseCIDR('240.0.0.0/4');
// IPv6 prefixes that carry IPv4 addresses: behind a NAT64 gateway (RFC 6052 well-known and
// local-use prefixes) the whole IPv4 internet arrives as 64:ff9b::a.b.c.d, so a /96 there is a /0.
const V4_IN_V6 = ['64:ff9b::/96', '64:ff9b:1::/48', '::ffff:0:0/96'].map((c) => ipaddr.parseCIDR(c) as [ipaddr.IPv6, number]);

interface ParseOptions {
  /** allow prefixes broader than /8 (v4) or /32 (v6) */
  force?: boolean;
  /** what the value is called in messages */
  what?: string;
}

// parseNet is pure, and a restart checks every address twice (reading its entry, then rendering
// the saved sets): the second check of the same text is a lookup. Only accepted values are kept.
const accepted = new Map<string, Net>();

/** Parse an address or CIDR the way a careful admin means it, refusing anything ambiguous. */
export function parseNet(text: string, opts: ParseOptions = {}): Net {
  const key = `${opts.force ? 'force ' : ''}${text}`;
  const known = accepted.get(key);
  if (known) return { ...known };
  const net = checkNet(text, opts);
  accepted.set(key, net);
  return { ...net };
}

function checkNet(text: string, opts: ParseOptions): Net {
  const what = opts.what ?? 'address';
  const raw = String(text ?? '').trim();
  if (raw === '') throw new InputError(`${what} is empty`, 'give an IPv4 or IPv6 address, e.g. 203.0.113.7 or 2001:db8::7');
  if (raw.length > 64 || /[^0-9A-Fa-f:./]/.test(raw)) {
    throw new InputError(`${what} '${printable(raw)}' is not an IP address`, 'give an IPv4 or IPv6 address or CIDR, e.g. 203.0.113.0/24; use add-fqdn for hostnames');
  }
  const parts = raw.split('/');
  if (parts.length > 2) throw new InputError(`${what} '${raw}' has more than one '/'`, 'write one prefix length, e.g. 198.51.100.0/24');
  const [addrText, prefixText] = parts;
  let family: Family;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  const v6 = !V4_RE.test(addrText) && addrText.includes(':') && V6_CHARS.test(addrText) ? parseV6(addrText) : undefined;
  if (!v6 && V4_RE.test(addrText)) {
    family = 4;
    addr = ipaddr.IPv4.parse(addrText);
  } else if (v6) {
    family = 6;
    addr = v6;
    if ((addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      throw new InputError(`${what} '${raw}' is an IPv4-mapped IPv6 address`, `write the IPv4 form instead: ${(addr as ipaddr.IPv6).toIPv4Address().toString()}`);
    }
  } else {
    const hint = /^[0-9.]+$/.test(addrText) ? 'write four decimal numbers 0-255 without leading zeros, e.g. 198.51.100.7' : 'give an IPv4 or IPv6 address, e.g. 203.0.113.7 or 2001:db8::7';
    throw new InputError(`${what} '${raw}' is not a valid IP address`, hint);
  }
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!PREFIX_RE.test(prefixText) || Number(prefixText) > max) {
      throw new InputError(`${what} '${raw}' has a bad prefix length`, `use a prefix length from 0 to ${max} without leading zeros`);
    }
    prefix = Number(prefixText);
  }
  if (prefix === 0) {
    throw new InputError(`${what} '${raw}' would whitelist the whole internet`, 'whitelist the specific address or network instead; this is never allowed');
  }
  // Breadth first: '1.2.3.4/7' should not suggest '0.0.0.0/7', which is refused in turn.
  const broadest = family === 4 ? 8 : 32;
  if (prefix < broadest && !opts.force) {
    throw new InputError(`${what} '${raw}' is broader than /${broadest}`, `narrow it, or pass --force if you really mean ${prefix === 0 ? 'that' : `a /${prefix}`}`);
  }
  // A single host is its own network: skipping the CIDR round trip matters at 20,000 entries.
  const canonAddr = addr.toString();
  const canonical = prefix === max ? canonAddr : (family === 4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${canonAddr}/${prefix}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${canonAddr}/${prefix}`)).toString();
  if (canonical !== canonAddr) {
    throw new InputError(`${what} '${raw}' has host bits set`, `did you mean ${canonical}/${prefix}?`);
  }
  if (family === 6) {
    for (const [net, len] of V4_IN_V6) {
      const holdsIt = prefix <= len && net.match(addr as ipaddr.IPv6, prefix);
      if (holdsIt) throw new InputError(`${what} '${raw}' holds ${net.toString()}/${len}, where the whole IPv4 internet appears as IPv6 (NAT64, IPv4-mapped)`, 'whitelist the translated address of the client instead, e.g. 64:ff9b::203.0.113.7; this is never allowed');
      // inside it, the width that counts is the IPv4 one: /104 is an IPv4 /8
      if (prefix < 104 && (addr as ipaddr.IPv6).match(net, len) && !opts.force) {
        throw new InputError(`${what} '${raw}' stands for IPv4 addresses broader than /8`, `narrow it, or pass --force if you really mean a /${prefix}`);
      }
    }
  }
  const range = addr.range();
  if (NEVER_RANGES.has(range) || (family === 4 && (addr as ipaddr.IPv4).match(CLASS_E as [ipaddr.IPv4, number]))) {
    throw new InputError(`${what} '${raw}' is a ${range} address, not a client`, 'whitelist the unicast address of the client');
  }
  return { family, cidr: `${canonical}/${prefix}`, address: canonical, prefix };
}

// One parse instead of isValid() and then parse(): each parses the whole text.
function parseV6(text: string): ipaddr.IPv6 | undefined {
  try { return ipaddr.IPv6.parse(text); } catch { return undefined; }
}

/** A single unicast host (DNS answers, knock IPs): no prefix allowed. */
export function parseHost(text: string, what = 'address'): Net {
  if (String(text).includes('/')) throw new InputError(`${what} '${printable(text)}' must be a single address`, 'drop the /prefix');
  return parseNet(text, { what });
}

/** Quote a user value for a one-line message without letting control characters through. */
export function printable(text: string): string {
  const s = String(text);
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}

/** Is `address` inside `cidr` (a bare address counts as a host route)? Never throws: unparsable is "no". */
export function netContains(cidr: string, address: string): boolean {
  try {
    const a = ipaddr.process(address);
    const [n, len] = cidr.includes('/') ? ipaddr.parseCIDR(cidr) : [ipaddr.process(cidr), a.kind() === 'ipv4' ? 32 : 128];
    return a.kind() === n.kind() && a.match(n, len);
  } catch {
    return false;
  }
}
