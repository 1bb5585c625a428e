import { randomInt } from 'node:crypto';
import { InputError } from './errors.js';
import type { PortRange } from './services.js';

export const KNOCK_MIN = 1024;
export const KNOCK_MAX = 65535;

// Ports scanners and other daemons commonly use; a knock there would be noise or a clash.
export const COMMON_PORTS = [
  1080, 1194, 1433, 1521, 1701, 1723, 1883, 1900, 2000, 2049, 2082, 2083, 2222, 2375, 2376, 3000, 3128,
  3268, 3306, 3389, 3478, 3479, 4443, 4444, 5000, 5001, 5222, 5269, 5353, 5432, 5555, 5631, 5672, 5900,
  5901, 5985, 5986, 6000, 6379, 6443, 6666, 6667, 7000, 7001, 7070, 8000, 8008, 8080, 8081, 8088, 8089,
  8443, 8888, 9000, 9090, 9100, 9200, 9300, 9418, 9999, 10050, 10051, 11211, 27017, 27018, 50000,
];

/**
 * Three distinct ports from a CSPRNG, none of them in the avoided ranges or ports. `pick`
 * is injectable for tests; in use it is crypto.randomInt.
 */
export function generateSequence(avoidRanges: PortRange[], avoidPorts: Iterable<number>, pick: (min: number, max: number) => number = randomInt): number[] {
  const blocked = blockedPort(avoidRanges, avoidPorts);
  const seq: number[] = [];
  for (let tries = 0; seq.length < 3; tries++) {
    if (tries > 10_000) throw new InputError('no free ports left for a knock sequence', 'narrow [firewall] open or the service catalog');
    const p = pick(KNOCK_MIN, KNOCK_MAX + 1);
    if (!blocked(p) && !seq.includes(p)) seq.push(p);
  }
  return seq;
}

function blockedPort(avoidRanges: PortRange[], avoidPorts: Iterable<number>) {
  const avoid = new Set<number>([...avoidPorts, ...COMMON_PORTS]);
  return (p: number) => p < KNOCK_MIN || p > KNOCK_MAX || avoid.has(p) || avoidRanges.some((r) => p >= r.from && p <= r.to);
}

/** Would `generateSequence` still pick these ports now (nothing started listening on one since)? */
export function sequenceStillFree(seq: number[], avoidRanges: PortRange[], avoidPorts: Iterable<number>): boolean {
  const blocked = blockedPort(avoidRanges, avoidPorts);
  return seq.length === 3 && new Set(seq).size === 3 && !seq.some(blocked);
}

export function parseSequence(text: string): number[] {
  const ports = String(text).split(',').map((s) => s.trim());
  const nums = ports.map(Number);
  if (ports.length !== 3 || !ports.every((p) => /^[1-9][0-9]{3,4}$/.test(p)) || nums.some((n) => n < KNOCK_MIN || n > KNOCK_MAX) || new Set(nums).size !== 3) {
    throw new InputError(`knock sequence '${text}' is not three distinct ports from ${KNOCK_MIN} to ${KNOCK_MAX}`, 'run tm3 knock rotate to make a new one');
  }
  return nums;
}

/** Timestamp names for knock entries, as the original: YYYYmmdd-HHMMSS (UTC). */
export function knockEntryName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
}
