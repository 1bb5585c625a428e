import { InputError } from './errors.js';
import { printable } from './address.js';

// Whom users ask when a knock fails: a name, a phone number or an e-mail address. It goes into
// tm3.conf (INI: no ; # = [ ] or quotes) and into knock.FAQ, so one plain line only.
export const CONTACT = /^[\p{L}\p{N}][\p{L}\p{N} @.+()/,:'_-]{0,119}$/u;

export function parseContact(text: string, what = 'admin contact'): string {
  const t = String(text ?? '').trim().replace(/ {2,}/g, ' ');
  if (!CONTACT.test(t)) {
    throw new InputError(`${what} '${printable(t).slice(0, 60)}' is not one plain line of at most 120 characters`, "give a name, phone number or e-mail address, such as 'Ann Smith, +1 555 0100, it@example.com' (no ; # = [ ] or quotes)");
  }
  return t;
}
