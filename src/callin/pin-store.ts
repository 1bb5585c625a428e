import fs from 'node:fs/promises';
import path from 'node:path';
import { readEntryFile } from '../store/entries.js';
import { writeAtomic, removeFile } from '../store/files.js';
import { expired, type Person } from '../model/person.js';
import type { Paths } from '../store/paths.js';
import { parsePinRecord, personBinding, verifyPin } from './pin.js';

// /etc/tm3/pins/NAME.pin, mode 600 in a 700 directory: apart from the person files, which
// issue 18's commands own. A record whose person is gone, expired or re-keyed matches nobody.

export const pinsDir = (paths: Paths) => paths.at('/etc/tm3/pins');
export const pinFile = (paths: Paths, name: string) => path.join(pinsDir(paths), `${name}.pin`);

export async function writePin(paths: Paths, name: string, record: string): Promise<void> {
  await fs.mkdir(pinsDir(paths), { recursive: true, mode: 0o700 });
  await writeAtomic(pinFile(paths, name), `${record}\n`, 0o600);
}

export const removePin = (paths: Paths, name: string) => removeFile(pinFile(paths, name));

/** Whether this person has a PIN that still belongs to them. */
export function hasPin(paths: Paths, p: Person): boolean {
  const text = readEntryFile(pinFile(paths, p.name));
  const rec = typeof text === 'string' ? parsePinRecord(text) : undefined;
  return rec !== undefined && rec.binding === personBinding(p);
}

/**
 * The person whose PIN this is, among people still allowed in. Every record is checked (no
 * early exit), so the time a call takes says nothing about which person, if any, matched.
 */
export function personByPin(paths: Paths, people: Person[], pin: string, now = Date.now()): Person | undefined {
  let found: Person | undefined;
  for (const p of people) {
    const text = readEntryFile(pinFile(paths, p.name));
    const rec = typeof text === 'string' ? parsePinRecord(text) : undefined;
    if (!rec) continue;
    const ok = verifyPin(pin, rec, personBinding(p));
    if (ok && !expired(p, now) && !found) found = p;
  }
  return found;
}

/**
 * Whether this PIN still opens for this person, checked again just before the grant: the caller
 * keys the address and confirms after the PIN, and meanwhile the admin may have changed or
 * cleared the PIN, rotated the person's credentials, or revoked and re-added them (red team).
 */
export function pinStillOpens(paths: Paths, p: Person | undefined, pin: string, now = Date.now()): boolean {
  return p !== undefined && personByPin(paths, [p], pin, now) === p;
}
