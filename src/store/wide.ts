import ipaddr from 'ipaddr.js';
import type { Net } from '../model/address.js';
import type { Catalog, PortRange } from '../model/services.js';

// Values that open the box wide: refused unless the admin writes allow_wide = true in the same
// section, and named by doctor even then. The documented RTP default is not "wide": it is what
// every PBX opens.
const MAX_PORTS = 1000;
const isRtpDefault = (r: PortRange) => r.proto === 'udp' && r.from === 10000 && r.to === 20000;

function portsOver(ranges: PortRange[]): string[] {
  const out: string[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    const n = ranges.filter((r) => r.proto === proto && !isRtpDefault(r)).reduce((sum, r) => sum + r.to - r.from + 1, 0);
    if (n > MAX_PORTS) out.push(`${n} ${proto} ports`);
  }
  return out;
}

// ranges no stranger on the internet routes to this server as themselves
const PRIVATE = new Set(['private', 'loopback', 'linkLocal', 'uniqueLocal', 'carrierGradeNat']);

export interface Wide { section: 'firewall' | 'services'; what: string }

/** Every wide value in a config, one line each. */
export function wideValues(open: PortRange[], trusted: Net[], catalog: Catalog): Wide[] {
  const wide: Wide[] = portsOver(open).map((p) => ({ section: 'firewall', what: `open: ${p} open to everyone` }));
  for (const t of trusted) if (t.prefix < (t.family === 4 ? 8 : 32)) wide.push({ section: 'firewall', what: `trusted: ${t.cidr} is broader than /${t.family === 4 ? 8 : 32}` });
  // Internet addresses are trusted by the few, not by the million: public networks may add up
  // to one /16 (IPv6: /48). A typo of a private range (1.0.0.0/8 for 10.0.0.0/8) lands here.
  for (const family of [4, 6] as const) {
    const pub = trusted.filter((t) => t.family === family && !PRIVATE.has(ipaddr.parseCIDR(t.cidr)[0].range()));
    const bits = family === 4 ? 32 : 128;
    const limit = family === 4 ? 16 : 48;
    const total = pub.reduce((sum, t) => sum + 2 ** (bits - t.prefix), 0);
    if (total > 2 ** (bits - limit)) wide.push({ section: 'firewall', what: `trusted: public networks ${pub.map((t) => t.cidr).join(', ')} add up to more than a /${limit} of the internet (a typo of a private range?)` });
  }
  for (const [name, ranges] of catalog) for (const p of portsOver(ranges)) wide.push({ section: 'services', what: `${name}: spans ${p}` });
  return wide;
}
