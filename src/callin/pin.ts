import { scryptSync, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { InputError } from '../model/errors.js';

// A person's call-in PIN, kept only as a salted scrypt hash. The record is bound to the person
// it was set for (their name, when they were added, and their SPA key): a person revoked and
// added again, or given new credentials with `tm3 user rotate`, does not inherit an old PIN.

export const PIN_MIN = 6;
export const PIN_MAX = 12;
// scrypt's cost: about 50 ms a try here, so a stolen file is slow to brute-force and a call
// with every person's PIN to compare against stays well under a second
const N = 16384, R = 8, P = 1, LEN = 32;

export function validatePin(text: string): string {
  const t = String(text ?? '').trim();
  if (!new RegExp(`^[0-9]{${PIN_MIN},${PIN_MAX}}$`).test(t)) throw new InputError(`a PIN is ${PIN_MIN} to ${PIN_MAX} digits (a phone keypad has no letters to key)`, `give ${PIN_MIN}-${PIN_MAX} digits, e.g. a random ${PIN_MIN + 2}-digit number`);
  if (/^(\d)\1+$/.test(t) || '0123456789012345'.includes(t) || '9876543210987654'.includes(t)) throw new InputError('that PIN is a run of one digit or a sequence', 'pick digits with no pattern');
  return t;
}

/** What ties a PIN record to one incarnation of a person. */
export function personBinding(p: { name: string; added: string; key: string }): string {
  return createHash('sha256').update(`${p.name}\n${p.added}\n${p.key}`).digest('hex').slice(0, 32);
}

/** `scrypt$N$r$p$salt$hash$binding`, one line. */
export function hashPin(pin: string, binding: string, salt = randomBytes(16)): string {
  const hash = scryptSync(pin, salt, LEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}$${binding}`;
}

export interface PinRecord { n: number; r: number; p: number; salt: Buffer; hash: Buffer; binding: string }

export function parsePinRecord(text: string): PinRecord | undefined {
  const m = /^scrypt\$(\d{4,7})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{16,64})\$([A-Za-z0-9+/=]{40,64})\$([0-9a-f]{32})$/.exec(String(text).trim());
  if (!m) return undefined;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // a planted record must not make a call spend minutes or gigabytes of memory
  if (n > 1 << 17 || (n & (n - 1)) !== 0 || r > 16 || p > 4) return undefined;
  return { n, r, p, salt: Buffer.from(m[4], 'base64'), hash: Buffer.from(m[5], 'base64'), binding: m[6] };
}

/** Constant-time check of a PIN against a record made for this person. */
export function verifyPin(pin: string, record: PinRecord, binding: string): boolean {
  const got = scryptSync(String(pin), record.salt, record.hash.length, { N: record.n, r: record.r, p: record.p, maxmem: 256 * 1024 * 1024 });
  const same = timingSafeEqual(got, record.hash);
  return same && timingSafeEqual(Buffer.from(record.binding), Buffer.from(binding));
}
