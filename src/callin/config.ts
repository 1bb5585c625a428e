import { InputError } from '../model/errors.js';
import { printable } from '../model/address.js';

// [callin] in tm3.conf. These values go into dialplan text, so each is checked here, before
// anything renders it: an extension or context with a comma, semicolon, bracket or newline
// could add dialplan of its own.

export interface CallinConfig {
  /** what callers dial: an extension, a feature code (*86) or a DID */
  extension: string;
  /** the context tm3's file defines; the admin includes it where those calls land */
  context: string;
  /** the FastAGI port on 127.0.0.1 (tm3-callin.socket) */
  port: number;
  /** the only user besides root whose processes may speak to that port */
  agiUser: string;
  /** where the include goes: auto (from what is installed), asterisk, incredible or wazo */
  dialplan: 'auto' | 'asterisk' | 'incredible' | 'wazo';
  maxWrongPinsPerHour: number;
}

export const CALLIN_DEFAULTS = { extension: '8686', context: 'tm3-callin', port: '457', agi_user: 'asterisk', dialplan: 'auto', max_wrong_pins_per_hour: '30' };

// a pattern starts with a key or a digit class: `_.` would also match the h, i, s and t
// extensions, running the dialog for every call's hang-up and every unmatched number (red team)
export const EXTENSION_RE = /^(?:[0-9*#+]{1,32}|_[0-9XZN*#+][0-9XZN.*#+]{0,31})$/;
export const CONTEXT_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function parseCallin(s: Record<string, string>): CallinConfig {
  const v = { ...CALLIN_DEFAULTS, ...s };
  const extension = String(v.extension).trim();
  if (!EXTENSION_RE.test(extension)) throw new InputError(`[callin] extension '${printable(extension)}' is not a dialable extension`, 'use digits, * # or + (an extension, a feature code such as *86, or a DID), or an Asterisk pattern such as _86XX');
  const context = String(v.context).trim();
  if (!CONTEXT_RE.test(context)) throw new InputError(`[callin] context '${printable(context)}' is not a context name`, 'use letters, digits, _ or -, starting with a letter (e.g. tm3-callin)');
  const port = Number(v.port);
  if (!/^[0-9]+$/.test(String(v.port).trim()) || port < 1 || port > 1023) throw new InputError(`[callin] port = '${printable(String(v.port))}' is out of range`, 'set a port below 1024 (the default is 457): only root may listen there, so no local user can stand in for tm3 and hear the PINs');
  const agiUser = String(v.agi_user).trim();
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(agiUser)) throw new InputError(`[callin] agi_user '${printable(agiUser)}' is not a user name`, 'name the user Asterisk runs as (asterisk on Debian, Wazo and Incredible PBX)');
  const dialplan = String(v.dialplan).trim();
  if (!['auto', 'asterisk', 'incredible', 'wazo'].includes(dialplan)) throw new InputError(`[callin] dialplan '${printable(dialplan)}' is unknown`, 'use auto, asterisk, incredible or wazo');
  const max = Number(v.max_wrong_pins_per_hour);
  if (!/^[0-9]+$/.test(String(v.max_wrong_pins_per_hour).trim()) || max < 1 || max > 10_000) throw new InputError(`[callin] max_wrong_pins_per_hour = '${printable(String(v.max_wrong_pins_per_hour))}' is out of range`, 'set a whole number from 1 to 10000');
  return { extension, context, port, agiUser, dialplan: dialplan as CallinConfig['dialplan'], maxWrongPinsPerHour: max };
}
