import ipaddr from 'ipaddr.js';
import { parseHost } from '../model/address.js';
import type { Entry } from '../model/entry.js';
import { readEntries, writeEntry, entryExists } from '../store/entries.js';
import type { Config } from '../store/config.js';
import type { Paths } from '../store/paths.js';

/** Entry names for addresses: dots stay, IPv6 colons become dashes. */
const nameFor = (prefix: string, addr: string) => `${prefix}-${addr.replace(/:/g, '-')}`.slice(0, 64);

/** The first entries: the admin's address (so the first ruleset lets them in) and the server's own. */
export function firstEntries(adminIps: string[], serverAddresses: string[], now = new Date().toISOString()): Entry[] {
  const make = (prefix: string, a: string): Entry => ({ name: nameFor(prefix, a), address: parseHost(a), services: ['all'], source: 'admin', added: now });
  return [...adminIps.map((a) => make('admin', a)), ...serverAddresses.filter((a) => !adminIps.includes(a)).map((a) => make('server', a))];
}

/** Write those not already whitelisted (by address or by name); a re-run adds nothing twice. */
export async function placeEntries(paths: Paths, config: Config, wanted: Entry[], dryRun: boolean): Promise<string[]> {
  const { entries } = await readEntries(paths, config.catalog);
  const have = new Set(entries.flatMap((e) => (e.address ? [ipaddr.parse(e.address.address).toString()] : [])));
  const created: string[] = [];
  for (const e of wanted) {
    if (have.has(e.address!.address) || (await entryExists(paths, e.name))) continue;
    if (!dryRun) await writeEntry(paths, e);
    created.push(e.name);
  }
  return created;
}
