import path from 'node:path';
import { readText, writeAtomic } from './files.js';
import type { Paths } from './paths.js';
import type { Usage } from '../plan/usage.js';

const file = (paths: Paths) => path.join(paths.stateDir, 'usage.json');

/** A missing or corrupt record only means counting starts again. */
export async function readUsage(paths: Paths): Promise<Usage | undefined> {
  const text = await readText(file(paths));
  if (text === undefined) return undefined;
  try {
    const u = JSON.parse(text) as Usage;
    if (typeof u?.since !== 'string' || Number.isNaN(Date.parse(u.since)) || !u.members || typeof u.members !== 'object') return undefined;
    // only well-formed records: a bad one is as if never seen
    const members: Usage['members'] = {};
    // most members share a handful of times (one per look): each distinct one is parsed once
    const dates = new Map<string, boolean>();
    const isDate = (t: string) => {
      let ok = dates.get(t);
      if (ok === undefined) dates.set(t, (ok = !Number.isNaN(Date.parse(t))));
      return ok;
    };
    for (const [k, v] of Object.entries(u.members)) {
      if (v && Number.isSafeInteger(v.packets) && (v.usedAt === null || (typeof v.usedAt === 'string' && isDate(v.usedAt)))) members[k] = { packets: v.packets, usedAt: v.usedAt };
    }
    return { since: u.since, members };
  } catch { return undefined; }
}

export async function writeUsage(paths: Paths, usage: Usage): Promise<void> {
  await writeAtomic(file(paths), `${JSON.stringify(usage)}\n`, 0o600);
}

/** One more look at the kernel's counters, kept (under the caller's lock). */
export async function recordUsage(paths: Paths, counts: import('../plan/usage.js').Counts): Promise<void> {
  const { observe } = await import('../plan/usage.js');
  await writeUsage(paths, observe(await readUsage(paths), counts, new Date().toISOString()));
}
