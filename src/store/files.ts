import fs from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { Tm3Error } from '../model/errors.js';

// Anything tm3 reads is a regular file: a FIFO would hang it (holding the store lock), a device
// or a symlink to /dev/zero would spin it. O_NONBLOCK makes opening a FIFO return at once.
const MAX_READ = 64 * 1024 * 1024;

/** Who may own a file tm3 trusts: root (and the user tm3 runs as, for tests as that user). */
export const OWNERS = new Set([0, process.getuid?.() ?? 0]);

/** A regular file's text; undefined when it does not exist; an error naming the fix otherwise. */
export async function readText(file: string, opts: { trusted?: boolean } = {}): Promise<string | undefined> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Tm3Error(`${file} is not a regular file`, 'remove it (tm3 writes a fresh one), then run the command again');
    if (st.size > MAX_READ) throw new Tm3Error(`${file} is ${st.size} bytes, too large to be tm3's`, 'remove it (tm3 writes a fresh one), then run the command again');
    // trusted: a file that says who gets in (tm3.conf, a provider catalog). Whoever can write
    // it can whitelist themselves, as with entry files (store/entries.ts).
    if (opts.trusted && (!OWNERS.has(st.uid) || st.mode & 0o022)) {
      throw new Tm3Error(`${file} is ${OWNERS.has(st.uid) ? `writable by group or others (mode ${(st.mode & 0o777).toString(8)})` : `owned by uid ${st.uid}, not root`}, so whoever can write it could let themselves in`, `chown root: and chmod go-w it if its content is yours, or remove it`);
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * Write through a temp file and rename, so a reader or a crash never sees half a file. Written
 * by hand: write-file-atomic writes through a symlink to its target and keeps an existing file's
 * owner, so a link or a file planted where tm3 writes (knock.FAQ, an entry) would steer the write.
 * rename() replaces whatever name is there, link or not, and the new file is ours, with our mode.
 */
export async function writeAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.tm3-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    // 'wx' is O_CREAT|O_EXCL: never opens through a link someone placed at the temp name
    const fh = await fs.open(tmp, 'wx', mode);
    try {
      await fh.writeFile(text);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw fsError(file, err, 'write');
  }
}

/** A failed file operation as one line that names the fix (a full disk, a read-only mount). */
export function fsError(file: string, err: unknown, verb: string): Tm3Error {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof Tm3Error) return e;
  const fix = e.code === 'ENOSPC' || e.code === 'EDQUOT' ? 'free disk space, then run the command again'
    : e.code === 'EROFS' ? 'remount the filesystem read-write, then run the command again'
      : 'check the permissions of that directory, then run the command again';
  return new Tm3Error(`could not ${verb} ${file}: ${e.code ?? e.message}`, fix);
}

/** Copy a file byte for byte, mode included, through a temp file and a rename: a crash never leaves half a file. */
export async function copyAtomic(src: string, dest: string): Promise<void> {
  const tmp = `${dest}.tm3-${process.pid}-${Date.now()}`;
  try {
    await fs.mkdir(path.dirname(dest), { recursive: true });
    // a link is copied as the link (CentOS's /etc/rc.local -> rc.d/rc.local), so a backup and
    // its restore give back what was there, never a copy of what it pointed at
    const st = await fs.lstat(src);
    if (st.isSymbolicLink()) await fs.symlink(await fs.readlink(src), tmp);
    else await fs.copyFile(src, tmp);
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw fsError(dest, err, 'write');
  }
}

/** Write only when the text differs; returns whether it wrote. */
export async function writeIfChanged(file: string, text: string, mode = 0o644): Promise<boolean> {
  if ((await readText(file)) === text) return false;
  await writeAtomic(file, text, mode);
  return true;
}

export async function removeFile(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fsError(file, err, 'remove');
  }
}

/** Remember files before a multi-file change, so a later failure can put them back. */
export class FileUndo {
  // the mode too: knockd.conf (0600, it is the key) must not come back world-readable, nor
  // tm3-failsafe without its execute bit
  private saved = new Map<string, { text: string; mode: number } | undefined>();
  async remember(file: string) {
    if (this.saved.has(file)) return;
    const text = await readText(file);
    this.saved.set(file, text === undefined ? undefined : { text, mode: (await fs.stat(file)).mode & 0o7777 });
  }
  async rollback() {
    for (const [file, was] of this.saved) {
      try {
        if (was === undefined) await removeFile(file);
        else await writeAtomic(file, was.text, was.mode);
      } catch { /* best effort: the error that caused the rollback is the one to report */ }
    }
  }
}

/** Create the log files a daemon insists on, empty, where they are missing. */
export async function touchLogs(paths: { at(p: string): string }, files: string[]): Promise<void> {
  for (const f of files) {
    const file = paths.at(f);
    if ((await readText(file).catch(() => '')) === undefined) await writeAtomic(file, '', 0o640);
  }
}
