import fs from 'node:fs/promises';
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { PrereqError } from '../model/errors.js';
import { fsError } from './files.js';
import type { Paths } from './paths.js';

// The lock is a symlink whose target names its holder: "<boot id> <pid namespace> <pid> <start>".
// Creating a symlink is atomic, and the target comes with it, so a waiter can tell at once
// that the holder died (kill -9, the OOM killer, a power cut) instead of waiting for a
// timeout: the next command after a crash starts straight away. The start time (field 22 of
// /proc/PID/stat) tells a reused pid from the holder.
const LOCK = 'tm3.lock';

const read = (f: () => string) => { try { return f().trim(); } catch { return ''; } };
const BOOT = read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
const PIDNS = read(() => readlinkSync('/proc/self/ns/pid')).replace(/\D/g, '');

/** State and start time of a process, from /proc/PID/stat (the name in parentheses may hold spaces). */
function procStat(pid: number): { state: string; start: string } | undefined {
  const stat = read(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  if (!stat) return undefined;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], start: rest[19] };
}
const holderTag = (pid: number) => `${BOOT || '-'} ${PIDNS || '-'} ${pid} ${procStat(pid)?.start ?? '-'}`;

/** Is the holder named by a lock target gone for sure? Unknown holders count as alive. */
function holderDead(tag: string): boolean {
  const [boot, pidns, pidText, start] = tag.split(' ');
  const pid = Number(pidText);
  if (!pid) return false;
  if (BOOT && boot !== '-' && boot !== BOOT) return true; // taken before the last reboot
  if (!PIDNS || pidns !== PIDNS) return false; // another container: we cannot see its processes
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const now = procStat(pid);
  if (!now) return false;
  // a zombie nobody reaps, or the pid reused by another process since
  return now.state === 'Z' || (start !== undefined && start !== '-' && now.start !== start);
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
 * Take a dead holder's lock away. Breakers take turns through a guard directory and remove the
 * lock only while it still names the dead holder: a live lock is never moved or removed.
 */
async function breakLock(file: string, deadTag: string): Promise<void> {
  const guard = `${file}.breaking`;
  try {
    await fs.mkdir(guard);
  } catch {
    // another waiter is breaking it; a guard left by a breaker that died goes after 10 s
    const st = await fs.stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 10_000) await fs.rmdir(guard).catch(() => undefined);
    return;
  }
  try {
    // Only breakers remove a dead holder's lock, and they take turns: if it still names the dead
    // holder now, it does until we unlink it.
    if ((await fs.readlink(file).catch(() => undefined)) === deadTag) await fs.unlink(file).catch(() => undefined);
  } finally {
    await fs.rmdir(guard).catch(() => undefined);
  }
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
      throw new PrereqError(`another tm3 command (pid ${holder.split(' ')[2] ?? '?'}) holds ${file}`, 'wait for it to finish, then run the command again');
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
