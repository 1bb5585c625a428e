import ipaddr from 'ipaddr.js';
import { parseNet, netContains, type Net } from '../model/address.js';
import { validateHostname } from '../model/hostname.js';
import { Tm3Error } from '../model/errors.js';

// `tm3 list ADDRESS` and `tm3 status ADDRESS`: what holds or covers an address (or a network),
// or, given a name, the entries of that name and whatever holds their current addresses.

export interface Filter { label: string; net?: Net; host?: string }

/** The argument: an address or a CIDR of any width (it only narrows a listing), or a hostname. */
export function parseFilter(text: string): Filter {
  try {
    const net = parseNet(text, { force: true, what: 'address' });
    return { label: net.prefix === (net.family === 4 ? 32 : 128) ? net.address : net.cidr, net };
  } catch (err) {
    // a name is tried only when the text cannot be an address at all, so a typo in an address
    // gets the address's own error
    if (!(err instanceof Tm3Error) || /^[0-9a-f:./]+$/i.test(String(text).trim())) throw err;
    try { return { label: validateHostname(text), host: validateHostname(text) }; } catch { throw err; }
  }
}

/** Does a CIDR (an entry's address, a grant, a ban) cover the filter's network, or lie inside it? */
export function touches(cidr: string, net: Net): boolean {
  if (netContains(cidr, net.address)) {
    const len = cidr.includes('/') ? Number(cidr.split('/')[1]) : net.family === 4 ? 32 : 128;
    if (len <= net.prefix) return true;
  }
  try { return netContains(net.cidr, ipaddr.process(cidr.split('/')[0]).toString()); } catch { return false; }
}

/** Entries (name, host, current addresses) the filter selects. */
export function entryMatches(f: Filter, host: string | undefined, addresses: string[]): boolean {
  if (f.host) return host === f.host;
  return addresses.some((c) => touches(c, f.net!));
}

/** Grants and bans: inside the filter's network, or at an address of the entries a name selected. */
export function addressMatches(f: Filter, address: string, selected: string[]): boolean {
  if (f.net) return touches(address, f.net);
  return selected.some((c) => netContains(c, address));
}
