import fs from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { PrereqError } from '../model/errors.js';
import type { Paths } from './paths.js';

/**
 * One lock for every command that changes the store or the kernel: concurrent commands queue,
 * and a crashed holder's lock goes stale after a few seconds.
 */
export async function withLock<T>(paths: Paths, fn: () => Promise<T>, opts: { dryRun?: boolean; waitMs?: number } = {}): Promise<T> {
  // A dry run writes nothing, not even a lock file.
  if (opts.dryRun) return fn();
  const waitMs = opts.waitMs ?? 60_000;
  await fs.mkdir(paths.stateDir, { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(paths.stateDir, {
      lockfilePath: `${paths.stateDir}/tm3.lock`,
      stale: 10_000,
      update: 2_000,
      retries: { retries: Math.ceil(waitMs / 250), factor: 1.2, minTimeout: 20, maxTimeout: 250, randomize: true },
    });
  } catch (err) {
    throw new PrereqError(`another tm3 command holds ${paths.stateDir}/tm3.lock`, 'wait for it to finish, then run the command again', String(err));
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
