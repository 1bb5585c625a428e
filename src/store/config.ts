import fs from 'node:fs/promises';
import path from 'node:path';
import { decode } from 'ini';
import { InputError } from '../model/errors.js';
import { parseNet, printable, type Net } from '../model/address.js';
import { buildCatalog, parsePortList, parseServiceList, type Catalog, type PortRange } from '../model/services.js';
import { readText } from './files.js';
import { nearest } from '../model/suggest.js';
import { wideValues } from './wide.js';
import { validateAbsPath, type Paths } from './paths.js';
import { parseContact } from '../model/contact.js';
import { parseCallin, CALLIN_DEFAULTS, type CallinConfig } from '../callin/config.js';

export interface DnsServer { host: string; port: number }

export interface Config {
  storeDir: string;
  dns: { servers: DnsServer[]; timeoutMs: number; concurrency: number; maxAgeMinutes: number; maxAddresses: number };
  catalog: Catalog;
  firewall: { open: PortRange[]; trusted: Net[] };
  fail2ban: { enabled: boolean; asteriskLog: string; bantime: number; findtime: number; maxretry: number; banTrusted: boolean };
  knock: { enabled: boolean; interface: string; grantSeconds: number; services: string[]; maxPermanentPerHour: number };
  server: { publicAddress: string; adminContact: string };
  /** personal SPA keys (fwknopd); people exist only with it or knocking */
  spa: { enabled: boolean; port: number };
  /** call in to open the door (issue 19): src/callin/config.ts */
  callin: CallinConfig;
  /** files the config came from, in order */
  sources: string[];
  /** what the config means that an admin may not expect (shown by every command) */
  warnings: string[];
}

// 172.16.0.0/12 is left out on purpose: on EC2 it is the provider's own network, a hole the original found.
export const DEFAULTS = {
  store: { dir: '/root' },
  dns: { servers: '', timeout_ms: '2000', concurrency: '32', max_age_minutes: '1440', max_addresses: '16' },
  firewall: { open: 'udp/10000:20000', trusted: '127.0.0.0/8, 10.0.0.0/8, 192.168.0.0/16, ::1', allow_wide: 'false' },
  // Wazo and XiVO log to /var/log/asterisk/full as well; Incredible PBX too.
  fail2ban: { enabled: 'true', asterisk_log: '/var/log/asterisk/full', bantime: '3600', findtime: '600', maxretry: '5', ban_trusted: 'false' },
  knock: { enabled: 'true', interface: '', grant_seconds: '3600', services: 'all', max_permanent_per_hour: '10' },
  server: { public_address: '', admin_contact: '' },
  spa: { enabled: 'true', port: '62201' },
  callin: CALLIN_DEFAULTS,
};

type Sections = Record<string, Record<string, string>>;

/** tm3.conf, then tm3.conf.d/*.conf in name order; later files win key by key. */
export async function loadConfig(paths: Paths, planned: Record<string, string> = {}): Promise<Config> {
  const layers: Sections = structuredClone(DEFAULTS) as Sections;
  layers.services = {};
  let dropins: string[] = [];
  try {
    dropins = (await fs.readdir(paths.configDir)).filter((f) => f.endsWith('.conf')).map((f) => path.join(paths.configDir, f));
  } catch { /* no drop-in directory */ }
  // `planned` files (a dry run's drop-in, not yet on disk) count as if written
  const extra = Object.keys(planned).filter((f) => path.dirname(f) === paths.configDir && !dropins.includes(f));
  const files = [paths.configFile, ...[...dropins, ...extra].sort()];
  const sources: string[] = [];
  for (const file of files) {
    const text = file in planned ? planned[file] : await readText(file, { trusted: true });
    if (text === undefined) continue;
    sources.push(file);
    const data = decode(text) as Record<string, unknown>;
    for (const [section, values] of Object.entries(data)) {
      if (typeof values !== 'object' || values === null) {
        throw new InputError(`${file}: '${printable(section)}' is outside any [section]`, 'put every key under a section such as [dns] or [firewall]');
      }
      checkKeys(file, section, values as Record<string, unknown>);
      layers[section] = { ...(layers[section] ?? {}), ...stringify(values as Record<string, unknown>) };
    }
  }
  const config = build(layers, sources);
  config.knock.services = parseServiceList(layers.knock.services, config.catalog);
  return config;
}

// A typo must not pass silently: "[firewal]" or "opne = ..." would leave the default in force.
const SECTIONS = [...Object.keys(DEFAULTS), 'services'];

function checkKeys(file: string, section: string, values: Record<string, unknown>): void {
  const hint = (word: string, known: string[], form: (w: string) => string) => {
    const near = nearest(word, known);
    return near ? `did you mean ${form(near)}?` : `known: ${known.map(form).join(' ')}`;
  };
  if (!SECTIONS.includes(section)) {
    throw new InputError(`${file}: unknown section [${printable(section)}]`, `${hint(section, SECTIONS, (w) => `[${w}]`)} (see the README for every key)`);
  }
  if (section === 'services') return; // its keys are service names (and allow_wide), checked by buildCatalog
  const keys = Object.keys(DEFAULTS[section as keyof typeof DEFAULTS]);
  for (const key of Object.keys(values)) {
    if (!keys.includes(key)) throw new InputError(`${file}: unknown key '${printable(key)}' in [${section}]`, hint(key, keys, (w) => w));
  }
}

function stringify(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === true ? 'true' : v === false ? 'false' : String(v ?? '')]));
}

function build(s: Sections, sources: string[]): Config {
  const { allow_wide: servicesWide = 'false', ...services } = s.services;
  const config = buildValues(s, services, sources);
  const allowed = { firewall: bool(s.firewall.allow_wide, '[firewall] allow_wide'), services: bool(servicesWide, '[services] allow_wide') };
  const refused = wideValues(config.firewall.open, config.firewall.trusted, config.catalog).find((w) => !allowed[w.section]);
  if (refused) throw new InputError(`[${refused.section}] ${refused.what}`, `narrow it, or write allow_wide = true in [${refused.section}] if you mean it`);
  return config;
}

function buildValues(s: Sections, services: Record<string, string>, sources: string[]): Config {
  const warnings: string[] = [];
  return {
    storeDir: validateAbsPath(s.store.dir, '[store] dir'),
    dns: {
      servers: list(s.dns.servers).map(parseServer),
      timeoutMs: int(s.dns.timeout_ms, '[dns] timeout_ms', 50, 60_000),
      concurrency: int(s.dns.concurrency, '[dns] concurrency', 1, 256),
      maxAgeMinutes: int(s.dns.max_age_minutes, '[dns] max_age_minutes', 1, 525_600),
      maxAddresses: int(s.dns.max_addresses, '[dns] max_addresses', 1, 1024),
    },
    catalog: buildCatalog(services, warnings) as Catalog,
    firewall: {
      open: s.firewall.open.trim() ? parsePortList(s.firewall.open, '[firewall] open') : [],
      trusted: list(s.firewall.trusted).map((t) => parseNet(t, { force: true, what: '[firewall] trusted' })),
    },
    fail2ban: {
      enabled: bool(s.fail2ban.enabled, '[fail2ban] enabled'),
      asteriskLog: validateAbsPath(s.fail2ban.asterisk_log, '[fail2ban] asterisk_log'),
      bantime: int(s.fail2ban.bantime, '[fail2ban] bantime', 60, 2_147_483),
      findtime: int(s.fail2ban.findtime, '[fail2ban] findtime', 10, 2_147_483),
      maxretry: int(s.fail2ban.maxretry, '[fail2ban] maxretry', 1, 1000),
      banTrusted: bool(s.fail2ban.ban_trusted, '[fail2ban] ban_trusted'),
    },
    knock: {
      enabled: bool(s.knock.enabled, '[knock] enabled'),
      interface: iface(s.knock.interface),
      grantSeconds: int(s.knock.grant_seconds, '[knock] grant_seconds', 1, 2_147_483),
      maxPermanentPerHour: int(s.knock.max_permanent_per_hour, '[knock] max_permanent_per_hour', 0, 10_000),
      services: [], // filled below: it needs the catalog
    },
    server: {
      publicAddress: s.server.public_address.trim() ? parseNet(s.server.public_address, { what: '[server] public_address' }).address : '',
      adminContact: s.server.admin_contact.trim() ? parseContact(s.server.admin_contact, '[server] admin_contact') : '',
    },
    spa: { enabled: bool(s.spa.enabled, '[spa] enabled'), port: int(s.spa.port, '[spa] port', 1, 65_535) },
    callin: parseCallin(s.callin),
    sources,
    warnings,
  };
}

function iface(v: string): string {
  const t = String(v ?? '').trim();
  if (t && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/.test(t)) throw new InputError(`[knock] interface '${printable(t)}' is not an interface name`, 'give a name such as eth0, or leave it empty for the default route');
  return t;
}

const list = (v: string) => String(v ?? '').split(',').map((x) => x.trim()).filter(Boolean);

function int(v: string, key: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(String(v).trim()) || n < min || n > max) throw new InputError(`${key} = '${printable(v)}' is out of range`, `set a whole number from ${min} to ${max}`);
  return n;
}

function bool(v: string, key: string): boolean {
  const t = String(v).trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(t)) return true;
  if (['false', 'no', '0', 'off'].includes(t)) return false;
  throw new InputError(`${key} = '${printable(v)}' is not true or false`, `set ${key} = true or false`);
}

function parseServer(text: string): DnsServer {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([0-9.]+)|([0-9a-fA-F:]+))(?::([0-9]{1,5}))?$/.exec(text);
  // A bare IPv6 address has colons of its own, so a port needs the [addr]:port form.
  const host = m ? (m[1] ?? m[2] ?? m[3]) : '';
  const port = m?.[4] ? Number(m[4]) : 53;
  if (!m || port < 1 || port > 65535) throw new InputError(`[dns] servers: '${printable(text)}' is not host[:port]`, 'list resolver addresses, e.g. 127.0.0.1:5353, [2001:db8::53]:53');
  parseNet(host, { what: '[dns] servers' });
  return { host, port };
}
