import fs from 'node:fs/promises';
import { statSync } from 'node:fs';
import { parsePerson, formatPerson, PERSON_RE, type Person } from '../model/person.js';
import type { Catalog } from '../model/services.js';
import { InputError, Tm3Error } from '../model/errors.js';
import { readEntryFile } from './entries.js';
import path from 'node:path';
import { writeAtomic, removeFile } from './files.js';
import type { Paths } from './paths.js';

export interface PeopleRead { people: Person[]; warnings: string[] }

/**
 * Every /etc/tm3/users/NAME.conf, read as untrusted input the way entries are (store/entries.ts):
 * never a link, FIFO or device, root's, not writable by others, small. A bad file is skipped
 * with a warning: that person gets no stanza (no access), everyone else keeps theirs.
 */
export async function readPeople(paths: Paths, catalog: Catalog): Promise<PeopleRead> {
  checkUsersDir(paths);
  let files: string[];
  try {
    files = (await fs.readdir(paths.usersDir)).filter((f) => f.endsWith('.conf')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { people: [], warnings: [] };
    throw err;
  }
  const people: Person[] = [];
  const warnings: string[] = [];
  for (const f of files) {
    const name = f.slice(0, -'.conf'.length);
    if (!PERSON_RE.test(name)) { warnings.push(`skipped users/${f}: the name is not allowed (lower-case letters, digits, _ -)`); continue; }
    const text = readEntryFile(paths.userFile(name));
    if (text === undefined || text instanceof Error) { warnings.push(`skipped users/${f}: ${text instanceof Error ? text.message : 'vanished while reading'}`); continue; }
    try {
      people.push(parsePerson(name, text, catalog));
    } catch (err) {
      const e = err as Tm3Error;
      warnings.push(`skipped users/${f}: ${e.message}${e.fix ? ` (${e.fix})` : ''}`);
    }
  }
  return { people, warnings };
}

export async function readPerson(paths: Paths, catalog: Catalog, name: string): Promise<Person | undefined> {
  const text = readEntryFile(paths.userFile(name));
  if (text === undefined) return undefined;
  if (text instanceof Error) throw new InputError(`person ${name}: ${text.message}`, `move ${paths.inServer(paths.userFile(name))} aside, then tm3 user add ${name}`);
  return parsePerson(name, text, catalog);
}

/** Whoever can write the users directory can give themselves a key. */
function checkUsersDir(paths: Paths): void {
  let st;
  try { st = statSync(paths.usersDir); } catch { return; }
  const where = paths.inServer(paths.usersDir);
  if (!st.isDirectory()) throw new InputError(`${where} is not a directory`, `move ${where} aside`);
  if (st.mode & 0o022) throw new InputError(`${where} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`, `chmod go-w ${where}`);
}

export async function writePerson(paths: Paths, p: Person): Promise<void> {
  await fs.mkdir(paths.usersDir, { recursive: true, mode: 0o700 });
  await writeAtomic(paths.userFile(p.name), formatPerson(p), 0o600);
}

export const deletePerson = (paths: Paths, name: string) => removeFile(paths.userFile(name));

/**
 * Which people hold a granted address, and each person's last access: one small file each
 * (/var/lib/tm3/grant-people/ADDRESS, /var/lib/tm3/last-access/NAME.json), written atomically.
 */
export interface LastAccess { at: string; from: string; method: string }

/** Who holds a granted address, each with the end of their grant: two people behind one NAT share it. */
export type Holders = Record<string, string>;

const ownerFile = (paths: Paths, address: string) => path.join(paths.grantOwners, address);
const lastFile = (paths: Paths, name: string) => path.join(paths.lastAccess, `${name}.json`);

function readHolders(paths: Paths, address: string): Holders {
  const text = readEntryFile(ownerFile(paths, address));
  if (typeof text !== 'string') return {};
  try {
    const o = JSON.parse(text) as unknown;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return {};
    return Object.fromEntries(Object.entries(o).filter(([k, v]) => PERSON_RE.test(k) && typeof v === 'string' && !Number.isNaN(Date.parse(v))));
  } catch { return {}; /* a torn or foreign file names nobody */ }
}

/** Add (until set) or drop (until undefined) one holder of an address; past holders are forgotten. */
export async function setGrantHolder(paths: Paths, address: string, person: string, until?: string, now = Date.now()): Promise<Holders> {
  const h = Object.fromEntries(Object.entries(readHolders(paths, address)).filter(([k, v]) => k !== person && Date.parse(v) > now));
  if (until) h[person] = until;
  if (Object.keys(h).length === 0) { await removeFile(ownerFile(paths, address)); return h; }
  await fs.mkdir(paths.grantOwners, { recursive: true, mode: 0o700 });
  await writeAtomic(ownerFile(paths, address), `${JSON.stringify(h)}\n`, 0o600);
  return h;
}

/** Every address some person holds a grant on (a record for a grant the kernel ended is harmless). */
export async function grantHolders(paths: Paths): Promise<Map<string, Holders>> {
  const out = new Map<string, Holders>();
  let names: string[] = [];
  try { names = await fs.readdir(paths.grantOwners); } catch { return out; }
  for (const n of names) out.set(n, readHolders(paths, n));
  return out;
}

export async function writeLastAccess(paths: Paths, name: string, a: LastAccess): Promise<void> {
  await fs.mkdir(paths.lastAccess, { recursive: true, mode: 0o700 });
  await writeAtomic(lastFile(paths, name), `${JSON.stringify(a)}\n`, 0o600);
}

export async function readLastAccess(paths: Paths, name: string): Promise<LastAccess | undefined> {
  const text = readEntryFile(lastFile(paths, name));
  if (typeof text !== 'string') return undefined;
  try {
    const a = JSON.parse(text) as LastAccess;
    return typeof a.at === 'string' && typeof a.from === 'string' && typeof a.method === 'string' ? { at: a.at, from: a.from, method: a.method } : undefined;
  } catch { return undefined; }
}
