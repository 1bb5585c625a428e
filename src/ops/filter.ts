import ipaddr from 'ipaddr.js';
import { parseNet, netContains, type Net } from '../model/address.js';

// `tm3 list ADDRESS` and `tm3 status ADDRESS`: what holds or covers an address (or a network).

/** The argument: an address or a CIDR, any width (it only narrows a listing). */
export const parseFilter = (text: string): Net => parseNet(text, { force: true, what: 'address' });

/** Does a CIDR (an entry's address, a grant, a ban) cover the filter, or lie inside it? */
export function touches(cidr: string, net: Net): boolean {
  if (netContains(cidr, net.address)) {
    const len = cidr.includes('/') ? Number(cidr.split('/')[1]) : net.family === 4 ? 32 : 128;
    if (len <= net.prefix) return true;
  }
  try { return netContains(net.cidr, ipaddr.process(cidr.split('/')[0]).toString()); } catch { return false; }
}
