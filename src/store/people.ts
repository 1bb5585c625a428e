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
 * Which person holds a granted address, and each person's last access: one small file each
 * (/var/lib/tm3/grant-people/ADDRESS, /var/lib/tm3/last-access/NAME.json), written atomically,
 * so two people opening at the same moment never lose each other's record.
 */
export interface GrantOwner { person: string; until: string }
export interface LastAccess { at: string; from: string; method: string }

const ownerFile = (paths: Paths, address: string) => path.join(paths.grantOwners, address);
const lastFile = (paths: Paths, name: string) => path.join(paths.lastAccess, `${name}.json`);

export async function writeGrantOwner(paths: Paths, address: string, o: GrantOwner): Promise<void> {
  await fs.mkdir(paths.grantOwners, { recursive: true, mode: 0o700 });
  await writeAtomic(ownerFile(paths, address), `${JSON.stringify(o)}\n`, 0o600);
}

/** Every address whose grant a person holds (a record for a grant the kernel ended is harmless). */
export async function grantOwners(paths: Paths): Promise<Map<string, GrantOwner>> {
  const out = new Map<string, GrantOwner>();
  let names: string[] = [];
  try { names = await fs.readdir(paths.grantOwners); } catch { return out; }
  for (const n of names) {
    const text = readEntryFile(ownerFile(paths, n));
    if (typeof text !== 'string') continue;
    try {
      const o = JSON.parse(text) as GrantOwner;
      if (typeof o.person === 'string' && PERSON_RE.test(o.person) && typeof o.until === 'string') out.set(n, { person: o.person, until: o.until });
    } catch { /* a torn or foreign file names nobody */ }
  }
  return out;
}

export const forgetGrantOwner = (paths: Paths, address: string) => removeFile(ownerFile(paths, address));

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
