import { encode } from 'ini';
import { decodeEntryText } from './entry-decode.js';
import { InputError } from './errors.js';
import { parseNet, printable, type Net } from './address.js';
import { validateHostname } from './hostname.js';
import { parseServiceList, ALL, type Catalog } from './services.js';

export const SOURCES = ['admin', 'knock', 'provider', 'migrated'] as const;
export type Source = (typeof SOURCES)[number];

/** One whitelist entry: <store.dir>/<name>.iptables */
export interface Entry {
  name: string;
  /** exactly one of address / host */
  address?: Net;
  host?: string;
  services: string[];
  source: Source;
  added: string;
  /** legacy one-line files carry the last address they resolved to */
  lastIp?: Net;
  legacy?: boolean;
  /** Fail2Ban: 'never' ban this entry's addresses, or 'allow' it; unset = by source */
  ban?: 'never' | 'allow';
  /** a name whitelisted over one family only (a legacy box's rules.v4 named it, rules.v6 not) */
  family?: 4 | 6;
  /** the person whose opening made it (tm3 user revoke removes it with them) */
  person?: string;
}

/** Admin-made entries are never banned by default; knock grants stay bannable (a hotel network can be hostile). */
export const neverBanned = (e: Entry) => (e.ban ? e.ban === 'never' : e.source !== 'knock');

/** Parse an entry file. Throws InputError with the reason when it is garbage. */
export function parseEntry(name: string, text: string, catalog: Catalog): Entry {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // What tm3 writes starts with its section header and has a key line: neither empty nor a
  // legacy one-liner, so the line census below (a second split of every file) is skipped.
  if (!(body.startsWith('[entry]\n') && body.includes('='))) {
    const meaningful = body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith(';'));
    if (meaningful.length === 0) throw new InputError(`entry ${name} is empty`, `delete it with 'tm3 del-acct ${name}' or re-add it`);
    if (meaningful.length === 1 && !meaningful[0].includes('=')) return parseLegacy(name, meaningful[0]);
  }
  const data = decodeEntryText(body);
  const section = (typeof data.entry === 'object' && data.entry ? data.entry : data) as Record<string, unknown>;
  const str = (k: string) => (typeof section[k] === 'string' ? (section[k] as string) : undefined);
  const address = str('address');
  const host = str('host');
  if ((address ? 1 : 0) + (host ? 1 : 0) !== 1) {
    throw new InputError(`entry ${name} needs exactly one of address= or host=`, `fix or delete ${name}.iptables`);
  }
  const source = (str('source') ?? 'admin') as Source;
  const ban = str('ban');
  const family = str('family');
  const person = str('person');
  if (person !== undefined && !/^[a-z][a-z0-9_-]{0,31}$/.test(person)) throw new InputError(`entry ${name} has person='${printable(person)}'`, 'a person name is lower-case letters, digits, _ or -; or leave it out');
  if (family !== undefined && family !== '4' && family !== '6') throw new InputError(`entry ${name} has family='${printable(family)}'`, 'use family=4 or family=6, or leave it out for both');
  if (ban !== undefined && ban !== 'never' && ban !== 'allow') throw new InputError(`entry ${name} has ban='${printable(ban)}'`, 'use ban=never or ban=allow, or leave it out');
  if (!SOURCES.includes(source)) throw new InputError(`entry ${name} has unknown source '${printable(source)}'`, `use one of ${SOURCES.join(', ')}`);
  return {
    name,
    address: address ? parseNet(address, { force: true, what: `entry ${name} address` }) : undefined,
    host: host ? validateHostname(host) : undefined,
    services: parseServiceList(str('services') ?? ALL, catalog),
    source,
    added: str('added') ?? '',
    ...(ban ? { ban: ban as 'never' | 'allow' } : {}),
    ...(family && host ? { family: Number(family) as 4 | 6 } : {}),
    ...(person ? { person } : {}),
  };
}

/** The original's format: "<address-or-fqdn> [<last-ip>]", services all. */
function parseLegacy(name: string, line: string): Entry {
  const [target, last, ...rest] = line.split(/\s+/);
  if (rest.length) throw new InputError(`entry ${name} has more than two words`, `rewrite ${name}.iptables as '<address-or-fqdn> [<last-ip>]'`);
  // add-ip and add-fqdn write this before they know the address; an unfinished run leaves it
  if (target === '1.1.1.1' || target === 'no.fqdn') throw new InputError(`entry ${name} is the placeholder '${target}' of an add-ip or add-fqdn that did not finish`, `tm3 migrate reads its address from the entry block, or tm3 del-acct ${name}`);
  const isAddress = /^[0-9.]+(\/\d+)?$/.test(target) || target.includes(':');
  const entry: Entry = { name, services: [ALL], source: 'admin', added: '', legacy: true };
  if (isAddress) entry.address = parseNet(target, { force: true, what: `entry ${name} address` });
  else entry.host = validateHostname(target);
  if (last) entry.lastIp = parseNet(last, { what: `entry ${name} last-ip` });
  return entry;
}

export function formatEntry(e: Entry): string {
  const fields: Record<string, string> = {};
  if (e.address) fields.address = e.address.cidr;
  if (e.host) fields.host = e.host;
  fields.services = e.services.join(',');
  fields.source = e.source;
  fields.added = e.added;
  if (e.ban) fields.ban = e.ban;
  if (e.family && e.host) fields.family = String(e.family);
  if (e.person) fields.person = e.person;
  return `# tm3 whitelist entry. Edit with tm3 add-ip/add-fqdn --replace, remove with tm3 del-acct ${e.name}.\n${encode({ entry: fields }).trimEnd()}\n`;
}
