import fs from 'node:fs/promises';
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { PrereqError } from '../model/errors.js';
import { fsError } from './files.js';
import type { Paths } from './paths.js';

// The lock is a symlink whose target names its holder: "<boot id> <pid namespace> <pid>".
// Creating a symlink is atomic, and the target comes with it, so a waiter can tell at once
// that the holder died (kill -9, the OOM killer, a power cut) instead of waiting for a
// timeout: the next command after a crash starts straight away.
const LOCK = 'tm3.lock';

const read = (f: () => string) => { try { return f().trim(); } catch { return ''; } };
const BOOT = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
const PIDNS = read(() => readlinkSync('/proc/self/ns/pid')).replace(/\D/g, '');
const holderTag = (pid: number) => `${BOOT || '-'} ${PIDNS || '-'} ${pid}`;

/** Is the holder named by a lock target gone for sure? Unknown holders count as alive. */
function holderDead(tag: string): boolean {
  const [boot, pidns, pidText] = tag.split(' ');
  const pid = Number(pidText);
  if (!pid) return false;
  if (BOOT && boot !== '-' && boot !== BOOT) return true; // taken before the last reboot
  if (!PIDNS || pidns !== PIDNS) return false; // another container: we cannot see its processes
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function readHolder(file: string): Promise<string | undefined> {
  try {
    return await fs.readlink(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // earlier tm3 builds locked with a directory of this name (proper-lockfile), stale after 10 s
    if (code === 'EINVAL') {
      const st = await fs.stat(file).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 10_000) await fs.rmdir(file).catch(() => undefined);
      return 'legacy';
    }
    throw fsError(file, err, 'read the lock');
  }
}

/**
 * Take a dead holder's lock away. It is renamed first, so only one waiter can win; if what we
 * renamed turns out to be a fresh lock (taken between our look and the rename), it goes back.
 */
async function breakLock(file: string, deadTag: string): Promise<void> {
  const aside = `${file}.dead-${process.pid}-${Date.now()}`;
  try { await fs.rename(file, aside); } catch { return; }
  if ((await fs.readlink(aside).catch(() => deadTag)) !== deadTag) await fs.link(aside, file).catch(() => undefined);
  await fs.unlink(aside).catch(() => undefined);
}

/**
 * One lock for every command that changes the store or the kernel: concurrent commands queue,
 * and the lock of a holder that died is taken over at once.
 */
export async function withLock<T>(paths: Paths, fn: () => Promise<T>, opts: { dryRun?: boolean; waitMs?: number } = {}): Promise<T> {
  // A dry run writes nothing, not even a lock file.
  if (opts.dryRun) return fn();
  const file = path.join(paths.stateDir, LOCK);
  const me = holderTag(process.pid);
  const deadline = Date.now() + (opts.waitMs ?? 60_000);
  try {
    await fs.mkdir(paths.stateDir, { recursive: true });
  } catch (err) {
    throw fsError(paths.stateDir, err, 'create');
  }
  for (let delay = 10; ; delay = Math.min(delay * 1.5, 200)) {
    try {
      await fs.symlink(me, file);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(file, err, 'take the lock');
    }
    const holder = await readHolder(file);
    if (holder === undefined) continue; // released meanwhile
    if (holderDead(holder)) {
      await breakLock(file, holder);
      continue;
    }
    if (Date.now() > deadline) {
      throw new PrereqError(`another tm3 command (pid ${holder.split(' ').pop()}) holds ${file}`, 'wait for it to finish, then run the command again');
    }
    await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
  }
  try {
    return await fn();
  } finally {
    // Only our own lock: if it was ever taken over, the new holder's stays.
    if ((await fs.readlink(file).catch(() => undefined)) === me) await fs.unlink(file).catch(() => undefined);
  }
}
