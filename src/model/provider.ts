// The trusted-provider catalog (providers/providers.json, and /etc/tm3/providers.json for local
// additions): validated as a whole, so a bad line refuses the file and nothing is half applied.
import ipaddr from 'ipaddr.js';
import { InputError } from './errors.js';
import { parseNet, printable, type Net } from './address.js';
import { validateHostname } from './hostname.js';
import { SERVICE_RE, ALL } from './services.js';
import { nearest } from './suggest.js';
import type { Entry } from './entry.js';

export interface Signalling {
  address?: Net;
  host?: string;
  region: string;
  source: string;
  published: string;
}

export interface Provider {
  id: string;
  name: string;
  services: string[];
  signalling: Signalling[];
  wide: boolean;
  note: string;
  /** the file it came from */
  file: string;
}

// Entry names are "<id>-<n>": short enough for NAME_RE, and an id never ends in "-<digits>",
// so "twilio-3" can only be twilio's and remove finds exactly its own entries.
export const PROVIDER_ID_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
const MAX_PROVIDERS = 500;
const MAX_SIGNALLING = 64;
const TOP_KEYS = ['format', 'about', 'left_out', 'providers'];
const PROVIDER_KEYS = ['id', 'name', 'services', 'signalling', 'wide', 'note'];
const ITEM_KEYS = ['address', 'host', 'region', 'source', 'published'];
// not on the internet: a provider entry there is a typo or a trick
const NOT_PUBLIC = new Set(['private', 'loopback', 'linkLocal', 'uniqueLocal', 'carrierGradeNat']);

export const providerEntryName = (id: string, n: number) => `${id}-${n}`;
/** The provider id an entry name belongs to, if it has the form "<id>-<n>". */
export const providerOfEntry = (name: string) => /^(.+)-[1-9][0-9]*$/.exec(name)?.[1];

/** Parse and check a whole catalog text; throws one InputError naming the file, the provider and the fix. */
export function parseProviderCatalog(text: string, file: string): Provider[] {
  const fail = (what: string, fix: string): never => { throw new InputError(`${file}: ${what}`, fix); };
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return fail(`is not valid JSON (${printable((err as Error).message)})`, 'fix the JSON syntax (a trailing comma? a missing quote?)');
  }
  if (!isObject(data)) return fail('is not a JSON object', 'write { "format": 1, "providers": [ ... ] }');
  checkKeys(data, TOP_KEYS, 'top level', fail);
  if (data.format !== 1) fail(`has format ${printable(JSON.stringify(data.format))}`, 'write "format": 1');
  if (!Array.isArray(data.providers)) return fail('has no "providers" list', 'write "providers": [ { "id": ..., "name": ..., "services": [...], "signalling": [...] } ]');
  if (data.providers.length > MAX_PROVIDERS) fail(`lists ${data.providers.length} providers`, `keep it to ${MAX_PROVIDERS}`);
  const seen = new Set<string>();
  return data.providers.map((raw, i) => {
    const p = parseProvider(raw, i, file, fail);
    if (seen.has(p.id)) fail(`lists provider '${p.id}' twice`, 'merge the two or rename one');
    seen.add(p.id);
    return p;
  });
}

type Fail = (what: string, fix: string) => never;

function parseProvider(raw: unknown, i: number, file: string, fail: Fail): Provider {
  if (!isObject(raw)) return fail(`provider #${i + 1} is not an object`, 'each provider is { "id": ..., "name": ..., "services": [...], "signalling": [...] }');
  const id = typeof raw.id === 'string' ? raw.id : '';
  const where = `provider '${printable(id || `#${i + 1}`)}'`;
  checkKeys(raw, PROVIDER_KEYS, where, fail);
  if (!PROVIDER_ID_RE.test(id) || /-[0-9]+$/.test(id)) {
    fail(`${where} has an id tm3 cannot use`, 'use 1-32 lowercase letters, digits and dashes, not ending in -<number> (e.g. twilio, telnyx-eu)');
  }
  const name = text(raw.name);
  if (!name) fail(`${where} has no "name"`, 'give the name an admin knows it by, e.g. "Twilio Elastic SIP Trunking"');
  if (!Array.isArray(raw.services) || raw.services.length === 0 || !raw.services.every((s) => typeof s === 'string' && (s === ALL || SERVICE_RE.test(s)))) {
    fail(`${where} has bad "services"`, 'list service names from tm3\'s catalog, e.g. ["sip"] or ["sip", "iax"]');
  }
  const services = raw.services as string[];
  if (services.includes(ALL)) fail(`${where} asks for services "all"`, 'a provider gets its signalling services only, e.g. ["sip"] or ["sip", "iax"]');
  if (raw.wide !== undefined && typeof raw.wide !== 'boolean') fail(`${where} has "wide": ${printable(JSON.stringify(raw.wide))}`, 'write "wide": true or leave it out');
  const wide = raw.wide === true;
  if (!Array.isArray(raw.signalling) || raw.signalling.length === 0) return fail(`${where} lists no "signalling" addresses`, 'add { "address": ..., "source": URL, "published": DATE } items');
  if (raw.signalling.length > MAX_SIGNALLING) fail(`${where} lists ${raw.signalling.length} signalling items`, `keep it to ${MAX_SIGNALLING}; use the provider's published CIDRs`);
  const signalling = raw.signalling.map((item, j) => parseItem(item, `${where} signalling #${j + 1}`, wide, fail));
  const keys = signalling.map((s) => s.address?.cidr ?? s.host);
  const dup = keys.find((k, j) => keys.indexOf(k) !== j);
  if (dup) fail(`${where} lists ${dup} twice`, 'remove the duplicate');
  const breadth = wideness(signalling);
  if (breadth && !wide) fail(`${where}: ${breadth}`, 'narrow it to the published signalling ranges, or mark the provider "wide": true (tm3 provider add then wants --allow-wide)');
  return { id, name, services, signalling, wide, note: text(raw.note), file };
}

function parseItem(raw: unknown, where: string, wide: boolean, fail: Fail): Signalling {
  if (!isObject(raw)) return fail(`${where} is not an object`, 'write { "address": ..., "source": URL, "published": DATE }');
  checkKeys(raw, ITEM_KEYS, where, fail);
  const hasAddress = raw.address !== undefined;
  if (hasAddress === (raw.host !== undefined)) fail(`${where} needs exactly one of "address" or "host"`, 'one address/CIDR or one hostname per item');
  const source = text(raw.source);
  if (!/^https?:\/\/[^\s/]+\.[^\s]+$/.test(source)) fail(`${where} has no "source" URL`, 'say where the provider published it: "source": "https://..."');
  const published = text(raw.published);
  if (!/\b\d{4}-\d{2}-\d{2}\b/.test(published)) fail(`${where} has no "published" date`, 'say when it was read, e.g. "published": "retrieved 2026-11-26"');
  const item: Signalling = { region: text(raw.region), source, published };
  try {
    if (hasAddress) {
      if (typeof raw.address !== 'string') throw new InputError('address is not a string', '');
      item.address = parseNet(raw.address, { force: wide, what: 'address' });
      const range = ipaddr.parseCIDR(item.address.cidr)[0].range();
      if (NOT_PUBLIC.has(range)) throw new InputError(`address ${item.address.cidr} is ${range}, not on the internet`, '');
    } else {
      if (typeof raw.host !== 'string') throw new InputError('host is not a string', '');
      item.host = validateHostname(raw.host);
    }
  } catch (err) {
    const message = (err as Error).message;
    const fix = /broader than/.test(message) ? 'check the published range; if it really is that wide, mark the provider "wide": true (tm3 provider add then wants --allow-wide)' : 'give the public address, CIDR or hostname the provider published';
    return fail(`${where}: ${message}`, fix);
  }
  return item;
}

/** Why a provider's ranges are wide (the [firewall] allow_wide limit for public networks), or ''. */
function wideness(items: Signalling[]): string {
  for (const family of [4, 6] as const) {
    const nets = items.flatMap((s) => (s.address?.family === family ? [s.address] : []));
    const bits = family === 4 ? 32 : 128;
    const total = nets.reduce((sum, n) => sum + 2 ** (bits - n.prefix), 0);
    const limit = family === 4 ? 16 : 48;
    if (total > 2 ** (bits - limit)) return `its IPv${family} ranges add up to more than a /${limit} of the internet`;
  }
  return '';
}

function checkKeys(obj: Record<string, unknown>, known: string[], where: string, fail: Fail) {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const near = nearest(key, known);
      fail(`${where} has unknown key '${printable(key)}'`, near ? `did you mean "${near}"?` : `known keys: ${known.join(', ')}`);
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown) => (typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '?').trim().slice(0, 300) : '');

/** The entries `tm3 provider add` makes: one per address or hostname, named <id>-<n>, services from the catalog. */
export function providerEntries(p: Provider, services: string[], added: string): Entry[] {
  return p.signalling.map((s, i) => ({
    name: providerEntryName(p.id, i + 1),
    ...(s.address ? { address: s.address } : { host: s.host }),
    services,
    source: 'provider' as const,
    added,
  }));
}

/** Same target and services: an entry that needs no rewrite. */
export const sameEntry = (a: Entry, b: Entry) =>
  a.name === b.name && a.source === b.source && (a.address?.cidr ?? a.host) === (b.address?.cidr ?? b.host) && a.services.join(',') === b.services.join(',');
