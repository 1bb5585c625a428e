import { InputError } from './errors.js';
import { printable } from './address.js';

/** Entry names become file names, so they are the original's rule plus no path tricks. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateName(text: string): string {
  const name = String(text ?? '');
  if (!NAME_RE.test(name)) {
    throw new InputError(
      `entry name '${printable(name)}' is not allowed`,
      'use 1-64 letters, digits, dot, dash or underscore, starting with a letter or digit (e.g. home-office)',
    );
  }
  if (name.endsWith('.iptables')) {
    throw new InputError(`entry name '${name}' ends in .iptables`, `leave the extension off: ${name.slice(0, -9) || 'NAME'}`);
  }
  return name;
}
