import fs from 'node:fs/promises';
import path from 'node:path';
import { Tm3Error } from '../model/errors.js';

export async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write through a temp file and rename, so a reader or a crash never sees half a file. */
export async function writeAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const { default: writeFileAtomic } = await import('write-file-atomic');
    await writeFileAtomic(file, text, { mode, fsync: true });
  } catch (err) {
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
    await fs.copyFile(src, tmp);
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
  private saved = new Map<string, string | undefined>();
  async remember(file: string) {
    if (!this.saved.has(file)) this.saved.set(file, await readText(file));
  }
  async rollback() {
    for (const [file, text] of this.saved) {
      try {
        if (text === undefined) await removeFile(file);
        else await writeAtomic(file, text);
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
