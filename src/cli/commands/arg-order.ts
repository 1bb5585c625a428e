import ipaddr from 'ipaddr.js';
import { InputError } from '../../model/errors.js';
import { NAME_RE } from '../../model/name.js';
import { printable } from '../../model/address.js';

// strict forms only: ipaddr.js would take '1.2.3' or '0x7f.1', which are fine entry names
const looksLikeAddress = (t: string) => /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(t) || (t.includes(':') && ipaddr.IPv6.isValid(t.split('/')[0]));
const looksLikeHost = (t: string) => /^[a-z0-9-]+(\.[a-z0-9-]+)+\.?$/i.test(t) && !/^[0-9.]+$/.test(t);

/**
 * `tm3 add-ip 203.0.113.5 home` and `tm3 add-ip 203.0.113.5`: the value where the name goes (a
 * name may hold dots and digits, so it would pass) is an admin's slip, refused with the right form.
 */
export function checkArgOrder(cmd: 'add-ip' | 'add-fqdn', name: string, value: string | undefined): string {
  const isValue = cmd === 'add-ip' ? looksLikeAddress : looksLikeHost;
  const what = cmd === 'add-ip' ? 'ADDRESS' : 'HOSTNAME';
  const example = cmd === 'add-ip' ? '203.0.113.5' : 'home.dyndns.example.org';
  if (value === undefined) {
    if (isValue(name)) throw new InputError(`the entry name is missing: '${printable(name)}' is the ${what.toLowerCase()}`, `tm3 ${cmd} NAME ${printable(name)} (NAME: e.g. home-office)`);
    throw new InputError(`the ${what.toLowerCase()} is missing`, `tm3 ${cmd} ${printable(name)} ${what} (e.g. tm3 ${cmd} ${printable(name)} ${example})`);
  }
  if (isValue(name) && !isValue(value) && NAME_RE.test(value)) {
    throw new InputError(`the name and the ${what.toLowerCase()} are swapped`, `tm3 ${cmd} ${printable(value)} ${printable(name)} (the name comes first)`);
  }
  return value;
}
