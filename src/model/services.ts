import { InputError } from './errors.js';
import { printable } from './address.js';

export type Proto = 'tcp' | 'udp';
export interface PortRange { proto: Proto; from: number; to: number }
/** name -> ports; 'all' is built in and means every protocol and port. */
export type Catalog = Map<string, PortRange[]>;

export const ALL = 'all';
// Short enough that "tm3-<name>-6.n" fits ipset's 31-character set names.
export const SERVICE_RE = /^[a-z][a-z0-9-]{0,15}$/;
/** Set names tm3 uses for other things (plan/sets.ts): a service by that name would share its set. */
export const RESERVED_SERVICES = ['knock', 'ban', 'known', 'granted'];

/** The original Travelin' Man 3 menu. */
export const DEFAULT_SERVICES: Record<string, string> = {
  sip: 'udp/5060:5069, tcp/5060:5069',
  'sip-udp': 'udp/5060:5069',
  'sip-tcp': 'tcp/5060:5069',
  iax: 'udp/4569',
  web: 'tcp/80, tcp/443, tcp/9080',
  webmin: 'tcp/9001',
  ftp: 'tcp/21',
  tftp: 'udp/69',
  ssh: 'tcp/22, tcp/9022',
  fop: 'tcp/4445',
};

const PORT_RE = /^(tcp|udp)\/([1-9][0-9]{0,4})(?::([1-9][0-9]{0,4}))?$/;

/** "udp/5060:5069, tcp/80" -> ranges; used for the catalog and for [firewall] open. */
export function parsePortList(text: string, where: string): PortRange[] {
  const items = String(text).split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InputError(`${where} lists no ports`, "write ports as proto/port[:last], e.g. 'udp/5060:5069, tcp/443'");
  return items.map((item) => {
    const m = PORT_RE.exec(item);
    const from = m ? Number(m[2]) : NaN;
    const to = m?.[3] ? Number(m[3]) : from;
    if (!m || from > 65535 || to > 65535 || to < from) {
      throw new InputError(`${where}: '${printable(item)}' is not a port`, "write ports as proto/port[:last] with 1-65535, e.g. 'udp/10000:20000'");
    }
    return { proto: m[1] as Proto, from, to };
  });
}

export function buildCatalog(section: Record<string, unknown> = {}, warnings: string[] = []): Catalog {
  const merged: Record<string, string> = { ...DEFAULT_SERVICES };
  for (const [name, value] of Object.entries(section)) {
    if (name === ALL) throw new InputError("[services] cannot redefine 'all'", "remove the 'all' line from [services]; it always means every port");
    // tm3-knock-*, tm3-ban-*, tm3-known-*, tm3-granted-*: the names of tm3's own sets (grants, people's grants, bans, the unions)
    if (RESERVED_SERVICES.includes(name) || name.startsWith('knock-')) throw new InputError(`[services] cannot define '${name}': tm3's own sets (grants, bans, the union) are named tm3-${name.replace(/^knock-.*/, 'knock-*')}-4`, `call the service something else, e.g. '${name}-svc'`);
    if (!SERVICE_RE.test(name)) throw new InputError(`[services] name '${printable(name)}' is not allowed`, 'use lowercase letters, digits and dashes, at most 16, starting with a letter');
    merged[name] = String(value);
  }
  const catalog: Catalog = new Map();
  for (const [name, value] of Object.entries(merged)) {
    if (value.trim() === '') continue; // an empty value in a drop-in removes a service
    catalog.set(name, parsePortList(value, `[services] ${name}`));
  }
  deriveSipHalves(section, catalog, warnings);
  return catalog;
}

/**
 * sip-udp and sip-tcp are the two halves of sip: an override of sip (a PBX on 5080) moves them
 * too, unless [services] sets them itself. A half sip no longer has keeps its default, and says so.
 */
function deriveSipHalves(section: Record<string, unknown>, catalog: Catalog, warnings: string[]): void {
  const sip = catalog.get('sip');
  if (!('sip' in section) || !sip) return;
  for (const proto of ['udp', 'tcp'] as const) {
    const half = `sip-${proto}`;
    if (half in section || !catalog.has(half)) continue;
    const ranges = sip.filter((r) => r.proto === proto);
    if (ranges.length) catalog.set(half, ranges);
    else warnings.push(`[services] sip has no ${proto} port, so ${half} keeps ${describePorts(catalog.get(half)!)}; set ${half} in [services] (an empty value removes it)`);
  }
}

// Thousands of entries name the same few lists: each distinct text is checked once per catalog.
// Only accepted lists are kept; a service added to the catalog later (tm3 migrate) changes none.
const seenLists = new WeakMap<Catalog, Map<string, string[]>>();

/** "sip, web" -> ["sip","web"], in catalog order; 'all' swallows the rest. */
export function parseServiceList(text: string, catalog: Catalog): string[] {
  let seen = seenLists.get(catalog);
  if (!seen) seenLists.set(catalog, (seen = new Map()));
  const key = String(text ?? '');
  const known = seen.get(key);
  if (known) return [...known];
  const list = checkServiceList(key, catalog);
  seen.set(key, list);
  return [...list];
}

function checkServiceList(text: string, catalog: Catalog): string[] {
  const names = String(text ?? '').split(/[,\s]+/).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const known = [ALL, ...catalog.keys()];
  if (names.length === 0) throw new InputError('no services given', `choose from: ${known.join(', ')}`);
  for (const n of names) {
    if (!known.includes(n)) throw new InputError(`unknown service '${printable(n)}'`, `choose from: ${known.join(', ')}`);
  }
  if (names.includes(ALL)) return [ALL];
  return known.filter((k) => names.includes(k));
}

export function describePorts(ranges: PortRange[]): string {
  return ranges.map((r) => `${r.proto}/${r.from === r.to ? r.from : `${r.from}:${r.to}`}`).join(', ');
}
