import ipaddr from 'ipaddr.js';
import { neverRange } from '../model/address.js';

// What a caller keys on a phone: an IPv4 address with * for the dots, ended by # (Asterisk's
// GET DATA stops at # and hands over the rest). Pure: the AGI flow and the unit tests share it.

export type Keyed = { ok: true; address: string } | { ok: false; why: string };

/** `192*0*2*10` (the # already stripped) to 192.0.2.10, or why it is not one address. */
export function parseKeyed(digits: string): Keyed {
  const d = String(digits ?? '').replace(/#$/, '');
  if (!/^[0-9*]{7,15}$/.test(d)) return { ok: false, why: `'${d.replace(/[^0-9*#]/g, '?').slice(0, 20)}' is not four numbers with * between them` };
  const parts = d.split('*');
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p))) return { ok: false, why: `'${d}' is not four numbers with * between them` };
  // no leading zeros: 010 would be octal to some tools and a typo to everyone
  if (parts.some((p) => p.length > 1 && p.startsWith('0'))) return { ok: false, why: `'${d}' has a number with a leading zero` };
  if (parts.some((p) => Number(p) > 255)) return { ok: false, why: `'${d}' has a number over 255` };
  const address = parts.map(Number).join('.');
  const addr = ipaddr.IPv4.parse(address);
  const never = neverRange(addr);
  if (never) return { ok: false, why: `${address} is ${never}` };
  const range = addr.range();
  if (range === 'loopback' || range === 'linkLocal') return { ok: false, why: `${address} is ${range}` };
  return { ok: true, address };
}

/**
 * The sound files that read an address back digit by digit: digits/N for each digit and
 * letters/dot for each dot (both in Debian's asterisk-core-sounds-en).
 */
export function sayAddress(address: string): string[] {
  return [...address].map((c) => (c === '.' ? 'letters/dot' : `digits/${c}`));
}

/** A duration as sounds: whole hours when it is one, else minutes (at least one). */
export function sayDuration(seconds: number): string[] {
  const num = (n: number): string[] => {
    // digits/N exists for 0-20 and the tens; anything else is read digit by digit
    if (n <= 20 || (n < 100 && n % 10 === 0)) return [`digits/${n}`];
    if (n < 100) return [`digits/${n - (n % 10)}`, `digits/${n % 10}`];
    return [...String(n)].map((c) => `digits/${c}`);
  };
  // the core sounds have hours and minute(s), no "hour": one hour is read as 60 minutes
  if (seconds >= 7200 && seconds % 3600 === 0) return [...num(seconds / 3600), 'hours'];
  const m = Math.max(1, Math.round(seconds / 60));
  return [...num(m), m === 1 ? 'minute' : 'minutes'];
}

/** A caller ID fit for a log line and a rate-limit key (the caller writes it): one plain word. */
export function cleanCallerId(text: string | undefined): string {
  const t = String(text ?? '').trim();
  return /^\+?[A-Za-z0-9_.-]{1,40}$/.test(t) ? t : 'unknown';
}
