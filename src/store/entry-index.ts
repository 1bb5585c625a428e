// A root-owned cache of parsed entries (/var/lib/tm3/entries.index), so a command that reads
// 5,000 entries makes one lstat per file instead of open+fstat+read+close and a parse.
//
// A cached entry is used only when the file's lstat matches, field for field, the fstat taken
// when its text was read and parsed: device, inode, size, mode, owner, mtime and ctime (in
// milliseconds with their fraction: statKey says why that is precise enough). Any write changes ctime (touch -d can fake mtime, never ctime); a delete and a
// new file on a reused inode gets a new ctime; a rename gives a new inode. Only files whose
// ctime was at least SETTLED old when the read began are recorded: a change inside the same
// timestamp tick as the read could otherwise keep the old stat with new text.
// The index is only a cache: anything odd about it (not root's, not mode 600, a link, bad JSON,
// another store dir, tm3 version or service catalog) and it is ignored and rebuilt.
import { openSync, fstatSync, readSync, closeSync, constants, type Stats } from 'node:fs';
import path from 'node:path';
import { SOURCES, type Entry, type Source } from '../model/entry.js';
import type { Net } from '../model/address.js';
import type { Catalog } from '../model/services.js';
import { NAME_RE } from '../model/name.js';
import { VERSION } from '../version.js';
import { writeAtomic } from './files.js';
import type { Paths } from './paths.js';

// 3: the stat key as seven numbers (2: one string of them; 1: nanoseconds from a BigInt stat)
const FORMAT = 3;
const MAX_INDEX = 64 * 1024 * 1024;
/**
 * How old a file's ctime must be, when the read began, for its entry to be recorded: longer than
 * one tick of the filesystem's clock. A ctime with a nanosecond part comes from a filesystem with
 * sub-second times (ext4, xfs, btrfs, tmpfs: a jiffy at most); one without may have whole seconds
 * (ext4 with small inodes) or two (FAT).
 */
export const settledMs = (ctimeMs: number): number => (ctimeMs % 1000 === 0 ? 3000 : 100);

/**
 * dev, ino, size, mode, uid, mtimeMs, ctimeMs, from a plain (number) stat: a BigInt stat of 5,000
 * files cost a `tm3 list` about a fifth of its time, and text made of them (each time printed as
 * a decimal) most of what was left of checking 20,000 records. A time in milliseconds as a double
 * resolves about a quarter of a microsecond today, not a nanosecond, and that is enough: a record
 * is only made for a file whose ctime was SETTLED old when the read began, so any later change to
 * it stamps a ctime at least that much (100 ms) newer than the recorded one. JSON carries a
 * double exactly. An inode number past 2^53 loses its last bits; ctime still tells a new file apart.
 */
export type StatKey = [number, number, number, number, number, number, number];
export const statKey = (st: Stats): StatKey => [st.dev, st.ino, st.size, st.mode, st.uid, st.mtimeMs, st.ctimeMs];
/** Whether a file's lstat is the one its record was made from, field for field. */
export const sameStat = (st: Stats, k: StatKey): boolean => st.ctimeMs === k[6] && st.ino === k[1] && st.mtimeMs === k[5] && st.size === k[2] && st.dev === k[0] && st.mode === k[3] && st.uid === k[4];

/**
 * One entry file's record, in arrays of plain strings: JSON.parse reads 5,000 of them in a few
 * milliseconds, where objects with nested addresses took several times as long.
 * [name, stat key, kind, address cidr or host, services, source, added, ban, family, last ip]
 * kind: 'a' address, 'h' host, 'la' / 'lh' the same in the legacy one-line form.
 */
export type Row = [string, StatKey, string, string, string, string, string, string, number, string];

export interface IndexFile {
  format: number;
  version: string;
  dir: string;
  services: string;
  rows: Row[];
}

export const indexFile = (paths: Paths) => path.join(paths.stateDir, 'entries.index');
/** what parseEntry depends on besides the file: the catalog's service names, in order */
const servicesKey = (catalog: Catalog) => [...catalog.keys()].join(',');

let writesAllowed = true;
/** A dry run changes nothing on disk, a cache included. */
export function disableIndexWrites(): void { writesAllowed = false; }

const isRoot = () => process.geteuid?.() === 0;
const isStatKey = (k: unknown): k is StatKey => Array.isArray(k) && k.length === 7 && k.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0);

/**
 * The index's records by entry name, or an empty map when there is none or it cannot be trusted.
 * Only root reads it: tm3 run as another user accepts that user's files too, a different rule.
 * A record's entry is checked when it is used (reviveRow).
 */
export function loadIndex(paths: Paths, catalog: Catalog): Map<string, Row> {
  const out = new Map<string, Row>();
  if (!isRoot()) return out;
  let fd: number;
  try {
    fd = openSync(indexFile(paths), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return out;
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    // root's own, private, one name: anything else was not written by tm3
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o777) !== 0o600 || st.nlink !== 1 || st.size > MAX_INDEX) return out;
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    let got: number;
    do {
      got = readSync(fd, buf, n, buf.length - n, n);
      n += got;
    } while (got > 0 && n < buf.length);
    text = buf.toString('utf8', 0, n);
  } catch {
    return out;
  } finally {
    closeSync(fd);
  }
  let data: unknown;
  try { data = JSON.parse(text); } catch { return out; }
  const d = data as IndexFile;
  if (!d || typeof d !== 'object' || d.format !== FORMAT || d.version !== VERSION || d.dir !== paths.storeDir || d.services !== servicesKey(catalog)) return out;
  if (!Array.isArray(d.rows)) return out;
  for (const row of d.rows) {
    if (!Array.isArray(row) || row.length !== 10 || typeof row[0] !== 'string' || !isStatKey(row[1])) continue;
    out.set(row[0], row as Row);
  }
  return out;
}

const NET_RE = /^[0-9a-f:.]{2,45}\/(?:[0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$/;
const HOST_RE = /^[a-z0-9][a-z0-9.-]{0,252}$/;
const DATE_RE = /^[0-9A-Za-z:.+-]{0,40}$/;

function net(cidr: string): Net | undefined {
  if (!NET_RE.test(cidr)) return undefined;
  const slash = cidr.indexOf('/');
  const address = cidr.slice(0, slash);
  const family = address.includes(':') ? 6 : 4;
  const prefix = Number(cidr.slice(slash + 1));
  if (family === 4 && (prefix > 32 || !/^[0-9.]+$/.test(address))) return undefined;
  return { family, cidr, address, prefix };
}

/** The services of a record: names the catalog knows, 'all' alone, in catalog order. */
export class ServiceLists {
  private seen = new Map<string, string[] | undefined>();
  private order: string[];
  constructor(catalog: Catalog) { this.order = ['all', ...catalog.keys()]; }
  get(text: string): string[] | undefined {
    let list = this.seen.get(text);
    if (list === undefined && !this.seen.has(text)) {
      const names = typeof text === 'string' ? text.split(',') : [];
      const ok = names.length > 0 && names.every((n) => this.order.includes(n)) && (names.length === 1 || !names.includes('all'))
        && names.every((n, i) => i === 0 || this.order.indexOf(names[i - 1]) < this.order.indexOf(n));
      list = ok ? names : undefined;
      this.seen.set(text, list);
    }
    return list && [...list];
  }
}

/** An entry as parseEntry builds it, field for field, or undefined when the record is not one. */
export function reviveRow(row: Row, services: ServiceLists): Entry | undefined {
  const [name, , kind, target, list, source, added, ban, family, last] = row;
  if (typeof name !== 'string' || !NAME_RE.test(name) || typeof target !== 'string' || typeof list !== 'string') return undefined;
  const svc = services.get(list);
  if (!svc || typeof source !== 'string' || !SOURCES.includes(source as Source) || typeof added !== 'string' || !DATE_RE.test(added)) return undefined;
  if (ban !== '' && ban !== 'never' && ban !== 'allow') return undefined;
  if (family !== 0 && family !== 4 && family !== 6) return undefined;
  if (typeof last !== 'string') return undefined;
  const isHost = kind === 'h' || kind === 'lh';
  if (!isHost && kind !== 'a' && kind !== 'la') return undefined;
  const address = isHost ? undefined : net(target);
  if (!isHost && !address) return undefined;
  if (isHost && !HOST_RE.test(target)) return undefined;
  if (kind === 'la' || kind === 'lh') {
    if (source !== 'admin' || added !== '' || list !== 'all' || ban !== '' || family !== 0) return undefined;
    const entry: Entry = { name, services: svc, source: 'admin', added: '', legacy: true };
    if (address) entry.address = address;
    else entry.host = target;
    if (last !== '') {
      const lastIp = net(last);
      if (!lastIp) return undefined;
      entry.lastIp = lastIp;
    }
    return entry;
  }
  if (last !== '' || (family && !isHost)) return undefined;
  return {
    name,
    address,
    host: isHost ? target : undefined,
    services: svc,
    source: source as Source,
    added,
    ...(ban ? { ban: ban as 'never' | 'allow' } : {}),
    ...(family ? { family: family as 4 | 6 } : {}),
  };
}

/**
 * The record of a freshly parsed entry; undefined for one the record form cannot hold exactly
 * (it must read back as the very same entry, or the file is read each time instead).
 */
export function toRow(key: StatKey, e: Entry, services: ServiceLists): Row | undefined {
  const kind = `${e.legacy ? 'l' : ''}${e.host !== undefined ? 'h' : 'a'}`;
  const row: Row = [e.name, key, kind, e.host ?? e.address?.cidr ?? '', e.services.join(','), e.source, e.added, e.ban ?? '', e.family ?? 0, e.lastIp?.cidr ?? ''];
  const back = reviveRow(row, services);
  return back && JSON.stringify(back) === JSON.stringify(e) ? row : undefined;
}

// The index to write once the command has succeeded (flushIndex): a command that fails leaves the
// disk as it found it, this cache included, and never spends the last free block on it.
const pending = new Map<string, IndexFile>();

/** Note the index for writing at the end of a successful command (as root, outside a dry run). */
export async function saveIndex(paths: Paths, catalog: Catalog, rows: Row[]): Promise<void> {
  if (!isRoot() || !writesAllowed) return;
  pending.set(indexFile(paths), { format: FORMAT, version: VERSION, dir: paths.storeDir, services: servicesKey(catalog), rows });
}

/** Write what saveIndex noted; a failure is ignored: it is only a cache. */
export async function flushIndex(): Promise<void> {
  if (!writesAllowed) pending.clear();
  for (const [file, data] of pending) await writeAtomic(file, JSON.stringify(data), 0o600).catch(() => undefined);
  pending.clear();
}
