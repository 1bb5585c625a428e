import { decode, encode } from 'ini';
import { InputError } from './errors.js';
import { printable } from './address.js';
import { NAME_RE } from './name.js';
import { parseServiceList, type Catalog } from './services.js';
import { parseSequence } from './knock.js';

/**
 * One traveller: /etc/tm3/users/NAME.conf. It holds their SPA keys, so it is root's alone
 * (mode 600), and it is read like an entry file: untrusted text, strict keys, every value checked.
 */
export interface Person {
  name: string;
  services: string[];
  /** ISO date-time; the refresh timer revokes them once it has passed */
  expires?: string;
  /** seconds a grant lasts for them; unset = [knock] grant_seconds */
  grantSeconds?: number;
  /** whether their openings also become permanent entries named NAME-YYYYmmdd-HHMMSS */
  permanent: boolean;
  /** fwknop Rijndael key (32 bytes) and HMAC-SHA256 key (64 bytes), base64 */
  key: string;
  hmacKey: string;
  added: string;
  /** their own knock: three ports, distinct from the site's and everyone else's (none: no personal knock yet) */
  knock?: number[];
}

// Person names go into file names, access.conf comments and fwknopd's command line: one word.
export const PERSON_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const KEYS = ['services', 'expires', 'grant_seconds', 'permanent', 'key', 'hmac_key', 'added', 'knock'] as const;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/;

export function validatePersonName(text: string): string {
  const name = String(text ?? '');
  if (!PERSON_RE.test(name)) throw new InputError(`person name '${printable(name)}' is not allowed`, 'use 1-32 lower-case letters, digits, _ or -, starting with a letter (e.g. alice)');
  return name;
}

/** A key of exactly `bytes` bytes in base64 (what fwknopd's KEY_BASE64 / HMAC_KEY_BASE64 take). */
function key(text: string | undefined, bytes: number, what: string, name: string): string {
  if (!text || !B64.test(text) || Buffer.from(text, 'base64').length !== bytes || Buffer.from(text, 'base64').toString('base64') !== text) {
    throw new InputError(`person ${name} has no valid ${what} (${bytes} bytes, base64)`, `tm3 user rotate ${name} makes new keys`);
  }
  return text;
}

/** --expires: a date (end of that day, UTC) or a full ISO date-time; never one in the past. */
export function parseExpires(text: string, now = Date.now()): string {
  const t = String(text ?? '').trim();
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T23:59:59Z` : t;
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d{3})?(Z|[+-]\d{2}:\d{2}))?$/.test(iso) ? Date.parse(iso) : NaN;
  if (Number.isNaN(ms)) throw new InputError(`--expires '${printable(t)}' is not a date`, 'give a date such as 2027-03-31 (that day, end of day UTC) or 2027-03-31T18:00:00Z');
  if (ms <= now) throw new InputError(`--expires ${t} is already past`, 'give a date in the future');
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/** --grant 90m / 2h / 1d / 3600 (seconds): how long one opening lasts. */
export function parseDuration(text: string, what = '--grant'): number {
  const m = /^([1-9][0-9]{0,6})([smhd]?)$/.exec(String(text ?? '').trim());
  const n = m ? Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2]] ?? 1) : NaN;
  if (!m || n > 2_147_483) throw new InputError(`${what} '${printable(String(text))}' is not a duration`, 'give seconds, or a number with m, h or d (e.g. 90m, 8h, 1d; at most 24 days)');
  return n;
}

export function parsePerson(name: string, text: string, catalog: Catalog): Person {
  validatePersonName(name);
  const body = text.replace(/^\uFEFF/, '');
  // every line is a comment, blank, [person] or a known key: ini itself drops some (__proto__)
  for (const line of body.split(/\r?\n/).map((l) => l.trim())) {
    if (!line || line.startsWith('#') || line.startsWith(';') || line === '[person]') continue;
    const k = /^([a-z_]+)\s*=/.exec(line)?.[1];
    if (!k || !(KEYS as readonly string[]).includes(k)) throw new InputError(`person ${name} has a line tm3 does not write: '${printable(line.slice(0, 40))}'`, `known keys: ${KEYS.join(' ')}; fix or remove the file`);
  }
  const data = decode(body) as Record<string, unknown>;
  const top = Object.keys(data);
  if (top.length !== 1 || top[0] !== 'person' || typeof data.person !== 'object' || data.person === null) {
    throw new InputError(`person ${name}: the file must hold one [person] section and nothing else`, `tm3 user revoke ${name}, then add them again`);
  }
  const section = data.person as Record<string, unknown>;
  for (const k of Object.keys(section)) if (!(KEYS as readonly string[]).includes(k)) throw new InputError(`person ${name} has an unknown key '${printable(k)}'`, `known: ${KEYS.join(' ')}`);
  const str = (k: string) => {
    const v = section[k];
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') throw new InputError(`person ${name}: ${k} is not one value`, `fix or remove /etc/tm3/users/${name}.conf`);
    return v;
  };
  const expires = str('expires');
  if (expires !== undefined && (!ISO.test(expires) || Number.isNaN(Date.parse(expires)))) throw new InputError(`person ${name} has expires='${printable(expires)}'`, 'use an ISO date-time such as 2027-03-31T23:59:59Z');
  const permanent = str('permanent') ?? 'false';
  if (permanent !== 'true' && permanent !== 'false') throw new InputError(`person ${name} has permanent='${printable(permanent)}'`, 'use permanent=true or permanent=false');
  const grant = str('grant_seconds');
  const added = str('added') ?? '';
  const knock = str('knock');
  if (added && !ISO.test(added)) throw new InputError(`person ${name} has added='${printable(added)}'`, 'use an ISO date-time');
  return {
    name,
    services: parseServiceList(str('services') ?? '', catalog),
    ...(expires ? { expires } : {}),
    ...(grant !== undefined ? { grantSeconds: parseDuration(grant, `person ${name} grant_seconds`) } : {}),
    permanent: permanent === 'true',
    key: key(str('key'), 32, 'SPA key', name),
    hmacKey: key(str('hmac_key'), 64, 'HMAC key', name),
    added,
    ...(knock !== undefined ? { knock: personKnock(name, knock) } : {}),
  };
}

function personKnock(name: string, text: string): number[] {
  try { return parseSequence(text); } catch { throw new InputError(`person ${name} has knock='${printable(text.slice(0, 40))}', not three distinct ports from 1024 to 65535`, `tm3 user rotate ${name} gives them a new knock`); }
}

export function formatPerson(p: Person): string {
  const fields: Record<string, string> = { services: p.services.join(',') };
  if (p.expires) fields.expires = p.expires;
  if (p.grantSeconds !== undefined) fields.grant_seconds = String(p.grantSeconds);
  fields.permanent = String(p.permanent);
  fields.key = p.key;
  fields.hmac_key = p.hmacKey;
  fields.added = p.added;
  if (p.knock) fields.knock = p.knock.join(',');
  return `# tm3 person: change it with tm3 user (add, rotate, revoke). It holds their SPA keys: mode 600.\n${encode({ person: fields })}`;
}

export const expired = (p: Person, now = Date.now()) => p.expires !== undefined && Date.parse(p.expires) <= now;
