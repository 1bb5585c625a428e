import fs from 'node:fs/promises';
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Tm3Error, InputError } from '../model/errors.js';
import { NAME_RE } from '../model/name.js';
import { printable } from '../model/address.js';
import { fsError } from './files.js';
import type { Paths } from './paths.js';

// Deleted entries, kept so `tm3 restore` can bring them back:
// /var/backups/tm3/deleted/<stamp>[.<n>]-<name>.iptables, the entry file byte for byte.
export const deletedDir = (paths: Paths) => path.join(paths.backups, 'deleted');
const FILE_RE = /^(\d{8}T\d{6}Z(?:\.\d+)?)-(.+)\.iptables$/;

export interface Backup { id: string; name: string; file: string; deletedAt: string }

/** 2026-11-26T21:37:01.123Z -> 20261126T213701Z */
const stampOf = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/**
 * A directory tm3 keeps root's secrets in must be a real directory of root's, never a link
 * someone planted (it would steer the backup, or the restore, somewhere else).
 */
function checkDir(dir: string, shown: string): boolean {
  let st;
  try { st = lstatSync(dir); } catch { return false; }
  if (st.isSymbolicLink()) throw new Tm3Error(`${shown} is a symbolic link; tm3 keeps deleted entries only in a real directory`, `remove the link (rm ${shown}), then run the command again`);
  if (!st.isDirectory()) throw new Tm3Error(`${shown} is not a directory`, `move ${shown} aside, then run the command again`);
  if (st.uid !== 0 && st.uid !== process.getuid?.()) throw new Tm3Error(`${shown} is owned by uid ${st.uid}, not root`, `chown root ${shown}, or move it aside`);
  return true;
}

/** Make (or check) /var/backups/tm3/deleted, mode 700, without following a link at either level. */
async function ensureDir(paths: Paths): Promise<string> {
  const dir = deletedDir(paths);
  for (const d of [paths.backups, dir]) {
    if (checkDir(d, paths.inServer(d))) continue;
    try {
      await fs.mkdir(d, { recursive: d === paths.backups, mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(paths.inServer(d), err, 'create');
    }
    checkDir(d, paths.inServer(d)); // made by someone else in between: the same checks
  }
  await fs.chmod(dir, 0o700);
  return dir;
}

/**
 * Keep an entry file's text before it is deleted. O_EXCL: never writes through a link or over
 * an earlier backup; a second deletion in the same second gets a numbered stamp.
 */
export async function keepDeleted(paths: Paths, name: string, text: string, now = new Date()): Promise<Backup> {
  const dir = await ensureDir(paths);
  const stamp = stampOf(now);
  for (let n = 0; n < 100; n++) {
    const id = `${n ? `${stamp}.${n}` : stamp}-${name}`;
    const file = path.join(dir, `${id}.iptables`);
    let fh;
    try {
      fh = await fs.open(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw fsError(paths.inServer(file), err, 'write');
    }
    try {
      await fh.writeFile(text);
      await fh.chmod(0o600);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await fs.rm(file, { force: true });
      throw fsError(paths.inServer(file), err, 'write');
    }
    await fh.close();
    return { id, name, file, deletedAt: now.toISOString() };
  }
  throw new Tm3Error(`too many deletions of ${name} in one second`, 'wait a second, then run the command again');
}

/** Every kept deletion, newest first. Names that are not tm3's are left alone. */
export function listDeleted(paths: Paths): Backup[] {
  const dir = deletedDir(paths);
  if (!checkDir(paths.backups, paths.inServer(paths.backups)) || !checkDir(dir, paths.inServer(dir))) return [];
  return readdirSync(dir).flatMap((f) => {
    const m = FILE_RE.exec(f);
    if (!m || !NAME_RE.test(m[2])) return [];
    const s = m[1];
    const deletedAt = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`;
    return [{ id: f.slice(0, -'.iptables'.length), name: m[2], file: path.join(dir, f), deletedAt }];
  }).sort((a, b) => (a.id < b.id ? 1 : -1));
}

/** A backup by its id (or its file name, or its path), else the newest one of an entry name. */
export function findDeleted(paths: Paths, which: string): Backup {
  const all = listDeleted(paths);
  const base = path.basename(which).replace(/\.iptables$/, '');
  const byId = all.find((b) => b.id === base);
  if (byId) return byId;
  const byName = all.find((b) => b.name === which);
  if (byName) return byName;
  throw new InputError(`no deleted entry '${printable(which)}' is kept in ${paths.inServer(deletedDir(paths))}`, 'tm3 restore --list shows what can be restored');
}
