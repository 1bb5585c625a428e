import path from 'node:path';
import { readEntryFile } from '../store/entries.js';
import { writeAtomic } from '../store/files.js';
import type { Paths } from '../store/paths.js';

// Wrong PINs in the last hour, per caller ID and for the whole box. A caller ID is the caller's
// to choose, so the per-caller limit only slows an honest mistake and a naive attacker; the
// box-wide cap is what bounds a brute force (and the ban, for a caller with a bannable address).

export const WINDOW_MS = 3_600_000;
export const PER_CALLER = 3;

export interface Failures { callers: Record<string, number[]>; all: number[] }

// caller IDs are the caller's words, and 'constructor' or '__proto__' is one: keyed with no
// prototype, so no caller ID finds Object's own properties (red team: the dialog crashed)
const byCaller = (): Record<string, number[]> => Object.create(null) as Record<string, number[]>;
const of = (f: Failures, caller: string) => (Object.hasOwn(f.callers, caller) ? f.callers[caller] : undefined);

export const emptyFailures = (): Failures => ({ callers: byCaller(), all: [] });

/** Why a call may not try a PIN now, or undefined. */
export function limited(f: Failures, caller: string, now: number, maxPerHour: number): string | undefined {
  const recent = (ts: number[] = []) => ts.filter((t) => now - t < WINDOW_MS).length;
  if (recent(of(f, caller)) >= PER_CALLER) return `caller ${caller} keyed ${PER_CALLER} wrong PINs in the last hour`;
  if (recent(f.all) >= maxPerHour) return `${maxPerHour} wrong PINs in the last hour reach [callin] max_wrong_pins_per_hour`;
  return undefined;
}

/** One more wrong PIN; everything older than the window is forgotten. */
export function addFailure(f: Failures, caller: string, now: number): Failures {
  const keep = (ts: number[] = []) => ts.filter((t) => now - t < WINDOW_MS);
  const callers = byCaller();
  for (const [k, ts] of Object.entries(f.callers)) { const k2 = keep(ts); if (k2.length) callers[k] = k2; }
  callers[caller] = [...(of({ callers, all: [] }, caller) ?? []), now];
  return { callers, all: [...keep(f.all), now] };
}

const file = (paths: Paths) => path.join(paths.stateDir, 'callin-failures.json');

export function readFailures(paths: Paths): Failures {
  const text = readEntryFile(file(paths));
  if (typeof text !== 'string') return emptyFailures();
  try {
    const o = JSON.parse(text) as Failures;
    const nums = (a: unknown) => (Array.isArray(a) ? a.filter((x): x is number => typeof x === 'number') : []);
    const callers = byCaller();
    for (const [k, v] of Object.entries(o.callers ?? {})) if (/^\+?[A-Za-z0-9_.-]{1,40}$/.test(k)) callers[k] = nums(v);
    return { callers, all: nums(o.all) };
  } catch { return emptyFailures(); }
}

export const writeFailures = (paths: Paths, f: Failures) => writeAtomic(file(paths), `${JSON.stringify(f)}\n`, 0o600);
