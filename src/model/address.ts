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

/** parseNet(text, { force: true }).cidr, without the copy: rendering checks 40,000 members this way. */
export function forcedCidr(text: string, what: string): string {
  if (canonicalHost(text)) return text;
  return (accepted.get(`force ${text}`) ?? parseNet(text, { force: true, what })).cidr;
}

/**
 * Is `text` a single host's CIDR exactly as parseNet prints it, and one parseNet accepts? Then
 * parseNet(text).cidr === text. The members of entries read from the entry index never passed
 * parseNet in this process (its memo misses), and the saved sets file re-checks each of them: for
 * the common case, a host, this answers without ipaddr.js objects, copies or memo keys. A /32 is
 * canonical when its four decimals are (V4_RE) and a client when the first is 1-223; a /128 when
 * it prints back as itself (RFC 5952) and is not unspecified, multicast or IPv4-mapped (the
 * NAT64 refusals are for prefixes of /96 and broader). Anything else: false, and parseNet judges.
 * test/unit/address.test.ts compares it with parseNet on random texts.
 */
export function canonicalHost(text: string): boolean {
  if (text.endsWith('/32')) {
    const addr = text.slice(0, -3);
    if (!V4_RE.test(addr)) return false;
    const first = Number(addr.slice(0, addr.indexOf('.')));
    return first >= 1 && first <= 223;
  }
  if (!text.endsWith('/128')) return false;
  const p = canonicalV6(text, text.length - 4);
  return p !== undefined && p[0] < 0xff00 && !isMapped(p) && !p.every((x) => x === 0);
}

const GROUPS = [0, 0, 0, 0, 0, 0, 0, 0];
const HEX = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1);

/**
 * The eight groups of text[0, end) when it is an IPv6 address in exactly formatV6's form
 * (lower-case hex, no leading zeros, "::" for the first longest run of two or more zero groups
 * and nowhere else), else undefined. One pass over the characters, no strings made: the saved
 * sets file checks 20,000 of them. (The returned array is reused by the next call.)
 */
function canonicalV6(text: string, end: number): number[] | undefined {
  let n = 0;
  let gap = -1; // the group index where "::" stands
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === 58 && text.charCodeAt(1) === 58) { gap = 0; i = 2; }
  if (i === end) return undefined; // "::" alone: unspecified, refused anyway
  for (;;) {
    let v = 0;
    let digits = 0;
    const start = i;
    for (; i < end; i++) {
      const h = HEX(text.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      digits++;
    }
    if (digits === 0 || digits > 4 || (digits > 1 && text.charCodeAt(start) === 48) || n === 8) return undefined;
    GROUPS[n++] = v;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = n;
      i++;
      if (i === end) break;
    } else if (i === end) return undefined;
  }
  let p: number[];
  if (gap < 0) {
    if (n !== 8) return undefined;
    p = GROUPS;
  } else {
    const run = 8 - n;
    if (run < 2) return undefined; // "::" for one zero group, or for none
    p = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let k = 0; k < gap; k++) p[k] = GROUPS[k];
    for (let k = gap; k < n; k++) p[k + run] = GROUPS[k];
  }
  // where formatV6 would put "::"
  const [best, bestLen] = longestZeroRun(p);
  if (gap < 0) return best === -1 ? p : undefined;
  return best === gap && bestLen === 8 - n ? p : undefined;
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
    // V4_RE admits only four plain decimals 0-255: no need for ipaddr's general parser
    addr = new ipaddr.IPv4(addrText.split('.').map(Number));
  } else if (v6) {
    family = 6;
    addr = v6;
    if (isMapped((addr as ipaddr.IPv6).parts)) {
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
  const canonAddr = family === 4 ? addrText : formatV6((addr as ipaddr.IPv6).parts);
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
  const range = neverRange(addr);
  if (range) {
    throw new InputError(`${what} '${raw}' is a ${range} address, not a client`, 'whitelist the unicast address of the client');
  }
  return { family, cidr: `${canonical}/${prefix}`, address: canonical, prefix };
}

/**
 * Refusals that no --force lifts: they would whitelist the world or nothing sensible. The
 * ipaddr.js range name of an unspecified, multicast, broadcast or IPv4-mapped address, or
 * 'reserved' for the rest of class E; else undefined. ('reserved' as a whole is not refused:
 * ipaddr.js files the documentation ranges the lab uses there.) Direct checks: ipaddr's range() walks every range table, which at 20,000 entries
 * is a visible part of a restart. test/unit/address.test.ts compares it with range().
 */
export function neverRange(addr: ipaddr.IPv4 | ipaddr.IPv6): string | undefined {
  if (addr.kind() === 'ipv4') {
    const o = (addr as ipaddr.IPv4).octets;
    if (o[0] === 0) return 'unspecified';
    if (o[0] >= 224 && o[0] <= 239) return 'multicast';
    if (o[0] >= 240) return o[0] === 255 && o[1] === 255 && o[2] === 255 && o[3] === 255 ? 'broadcast' : 'reserved';
    return undefined;
  }
  const p = (addr as ipaddr.IPv6).parts;
  if (p.every((x) => x === 0)) return 'unspecified';
  if (p[0] >= 0xff00) return 'multicast';
  if (isMapped(p)) return 'ipv4Mapped';
  return undefined;
}

// One parse instead of isValid() and then parse(): each parses the whole text. The plain
// hex-and-colons form (all tm3 writes) is split here; anything else goes to ipaddr.js.
function parseV6(text: string): ipaddr.IPv6 | undefined {
  const parts = plainV6Parts(text);
  if (parts) return new ipaddr.IPv6(parts);
  try { return ipaddr.IPv6.parse(text); } catch { return undefined; }
}

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

/**
 * The eight groups of a hex-and-colons IPv6 text with at most one "::", or undefined for any
 * other text (a dotted tail, a stray colon), which ipaddr.js then judges.
 * test/unit/address.test.ts checks it against ipaddr.js on random texts.
 */
export function plainV6Parts(text: string): number[] | undefined {
  if (text.includes('.')) return undefined;
  const gap = text.indexOf('::');
  let head: string[];
  let tail: string[] = [];
  if (gap === -1) {
    head = text.split(':');
    if (head.length !== 8) return undefined;
  } else {
    if (text.includes('::', gap + 1)) return undefined;
    head = gap === 0 ? [] : text.slice(0, gap).split(':');
    tail = gap + 2 === text.length ? [] : text.slice(gap + 2).split(':');
    if (head.length + tail.length > 7) return undefined;
  }
  const parts = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < head.length; i++) {
    if (!HEX_GROUP.test(head[i])) return undefined;
    parts[i] = parseInt(head[i], 16);
  }
  for (let i = 0; i < tail.length; i++) {
    if (!HEX_GROUP.test(tail[i])) return undefined;
    parts[8 - tail.length + i] = parseInt(tail[i], 16);
  }
  return parts;
}

const isMapped = (p: number[]) => p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0xffff;

/** Start and length of the first longest run of two or more zero groups (RFC 5952's "::"); -1 when none. */
function longestZeroRun(p: number[]): [number, number] {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (p[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && p[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  return [best, bestLen];
}

/** RFC 5952 text, as ipaddr.js toString() prints it: the first longest run of two or more zero groups is "::". */
export function formatV6(p: number[]): string {
  const [best, bestLen] = longestZeroRun(p);
  const hex = (a: number, b: number) => p.slice(a, b).map((x) => x.toString(16)).join(':');
  return best === -1 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
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
