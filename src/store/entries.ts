import fs from 'node:fs/promises';
import { readSync, openSync, fstatSync, closeSync, statSync, lstatSync, constants, type Stats } from 'node:fs';
import { parseEntry, formatEntry, type Entry } from '../model/entry.js';
import { NAME_RE } from '../model/name.js';
import type { Catalog } from '../model/services.js';
import { Tm3Error, InputError } from '../model/errors.js';
import { writeAtomic, removeFile, OWNERS } from './files.js';
import type { Paths } from './paths.js';
import { loadIndex, saveIndex, statKey, sameStat, settledMs, reviveRow, toRow, ServiceLists, type Row } from './entry-index.js';

export interface StoreRead {
  entries: Entry[];
  /** one line each: a file that was skipped and why */
  warnings: string[];
}

/**
 * Read every <name>.iptables; a garbage file is skipped with a warning so the others still apply.
 * `index: false` reads and parses every file, neither using nor writing the entry index.
 */
export async function readEntries(paths: Paths, catalog: Catalog, opts: { index?: boolean } = {}): Promise<StoreRead> {
  checkStoreDir(paths);
  let names: string[];
  try {
    names = (await fs.readdir(paths.storeDir)).filter((f) => f.endsWith('.iptables')).map((f) => f.slice(0, -'.iptables'.length)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], warnings: [] };
    throw err;
  }
  const entries: Entry[] = [];
  const warnings: string[] = [];
  // Synchronous reads: one syscall each and no thread-pool round trips, which at 20,000 files
  // is most of a restart. Nothing else runs meanwhile in a one-shot command.
  // A file whose lstat matches its index record is not read again (entry-index.ts says when).
  const dir = `${paths.storeDir}/`;
  const useIndex = opts.index !== false;
  const index = useIndex ? loadIndex(paths, catalog) : new Map<string, Row>();
  const services = new ServiceLists(catalog);
  const kept: Row[] = [];
  const started = Date.now();
  let changed = false;
  for (const name of names) {
    if (!NAME_RE.test(name)) {
      warnings.push(`skipped ${name}.iptables: the name is not allowed (rename it to letters, digits, . _ -)`);
      continue;
    }
    const file = `${dir}${name}.iptables`;
    const rec = index.get(name);
    if (rec) {
      const st = lstatSync(file, { throwIfNoEntry: false });
      // the checks readEntryFile makes, again: a record is only ever made for a file that passed them
      const cached = st && st.isFile() && OWNERS.has(st.uid) && !(st.mode & 0o022) && st.size <= MAX_ENTRY && sameStat(st, rec[1]) ? reviveRow(rec, services) : undefined;
      if (cached) {
        entries.push(cached);
        kept.push(rec);
        continue;
      }
      changed = true;
    }
    let stat: Stats | undefined;
    const text = readEntryFile(file, (s) => { stat = s; });
    if (text === undefined || text instanceof Error) {
      warnings.push(`skipped ${name}.iptables: ${text instanceof Error ? text.message : 'vanished while reading'}`);
      continue;
    }
    let entry: Entry;
    try {
      entry = parseEntry(name, text, catalog);
    } catch (err) {
      const e = err as Tm3Error;
      warnings.push(`skipped ${name}.iptables: ${e.message}${e.fix ? ` (${e.fix})` : ''}`);
      continue;
    }
    entries.push(entry);
    if (stat && stat.ctimeMs + settledMs(stat.ctimeMs) < started) {
      const row = toRow(statKey(stat), entry, services);
      if (row) kept.push(row);
      changed = true;
    }
  }
  if (useIndex && (changed || kept.length !== index.size)) await saveIndex(paths, catalog, kept);
  return { entries, warnings };
}

const MAX_ENTRY = 64 * 1024;
const BUF = Buffer.alloc(MAX_ENTRY + 1);

/**
 * One entry file, only if it is what tm3 would have written: a regular file (never a link,
 * FIFO, device or directory: opened without following, without blocking), owned by root, small.
 */
export function readEntryFile(file: string, onStat?: (st: Stats) => void): string | undefined | Error {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return new Error(code === 'ELOOP' ? 'it is a symbolic link (entries are plain files)' : (e as Error).message);
  }
  try {
    const st = fstatSync(fd);
    // the index's record is keyed on this very stat
    if (onStat) onStat(st);
    if (!st.isFile()) return new Error(`it is ${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a device or socket'}, not a file`);
    if (!OWNERS.has(st.uid)) return new Error(`it is owned by uid ${st.uid}, not root (chown root it if it is yours)`);
    // whoever can write it can whitelist themselves
    if (st.mode & 0o022) return new Error(`it is writable by group or others (mode ${(st.mode & 0o777).toString(8)}; chmod go-w it if it is yours)`);
    if (st.size > MAX_ENTRY) return new Error(`it is ${st.size} bytes; an entry is under 64 KiB`);
    // into one reused buffer: readFileSync would stat the file again and allocate per file
    let n = 0;
    let got: number;
    do {
      got = readSync(fd, BUF, n, BUF.length - n, n);
      n += got;
    } while (got > 0 && n < BUF.length);
    if (n > MAX_ENTRY) return new Error(`it grew past 64 KiB while being read`);
    return BUF.toString('utf8', 0, n);
  } catch (e) {
    return e as Error;
  } finally {
    closeSync(fd);
  }
}

/** The store directory must not be writable by anyone but root: whoever can write there can whitelist. */
export function checkStoreDir(paths: Paths): void {
  let st;
  try { st = statSync(paths.storeDir); } catch { return; } // created by the first write, as root
  const where = paths.inServer(paths.storeDir);
  if (!st.isDirectory()) throw new InputError(`the store ${where} is not a directory`, `set [store] dir to a directory, or move ${where} aside`);
  if (!OWNERS.has(st.uid)) throw new InputError(`the store ${where} is owned by uid ${st.uid}, not root`, `chown root ${where}`);
  if (st.mode & 0o022) throw new InputError(`the store ${where} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`, `chmod go-w ${where}`);
}

export async function writeEntry(paths: Paths, entry: Entry): Promise<void> {
  await writeAtomic(paths.entryFile(entry.name), formatEntry(entry), 0o600);
}

export async function deleteEntry(paths: Paths, name: string): Promise<boolean> {
  return removeFile(paths.entryFile(name));
}

/** Whether a name is taken; whatever is there counts, and nothing is opened (a FIFO would block). */
export async function entryExists(paths: Paths, name: string): Promise<boolean> {
  return fs.lstat(paths.entryFile(name)).then(() => true, () => false);
}
