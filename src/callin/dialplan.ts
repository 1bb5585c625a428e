import { render } from '../plan/render.js';
import { VERSION } from '../version.js';
import type { CallinConfig } from './config.js';

// Where each PBX family reads custom dialplan, and the files tm3 writes for call-in. Pure:
// `tm3 callin enable --dry-run` and the unit tests show exactly what would be written.

export type Flavour = 'asterisk' | 'incredible' | 'wazo';

/**
 * The include and the file that must pull it in. Wazo reads every extensions_extra.d/*.conf
 * by itself. FreePBX-based Incredible PBX regenerates extensions.conf but keeps
 * extensions_custom.conf, so the #include goes there; plain Asterisk includes it from
 * extensions.conf.
 */
export function dialplanPaths(flavour: Flavour): { file: string; includer?: string } {
  if (flavour === 'wazo') return { file: '/etc/asterisk/extensions_extra.d/tm3.conf' };
  return { file: '/etc/asterisk/extensions_tm3.conf', includer: flavour === 'incredible' ? '/etc/asterisk/extensions_custom.conf' : '/etc/asterisk/extensions.conf' };
}

/** auto: Wazo has extensions_extra.d, FreePBX (Incredible PBX) has extensions_custom.conf. */
export function detectFlavour(setting: CallinConfig['dialplan'], exists: (p: string) => boolean): Flavour {
  if (setting !== 'auto') return setting;
  if (exists('/etc/asterisk/extensions_extra.d')) return 'wazo';
  if (exists('/etc/asterisk/extensions_custom.conf')) return 'incredible';
  return 'asterisk';
}

export const INCLUDE_LINE = '#include extensions_tm3.conf';

export function dialplanText(c: CallinConfig, enabled: boolean): string {
  return render('extensions_tm3.conf', { version: VERSION, enabled, extension: c.extension, context: c.context, port: String(c.port) });
}

/** Whether a dialplan file is tm3's with call-in on (the AGI refuses calls otherwise). */
export const dialplanEnabled = (text: string | undefined) => Boolean(text?.startsWith('; Written by tm3') && /^exten => /m.test(text));

/** The includer with tm3's #include added once at its end, or undefined if it has one already. */
export function withInclude(text: string): string | undefined {
  if (text.split('\n').some((l) => /^\s*#(?:try)?include\s+"?(?:\/etc\/asterisk\/)?extensions_tm3\.conf"?\s*$/.test(l))) return undefined;
  return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}\n; tm3 call-in (tm3 callin enable): the context it defines\n${INCLUDE_LINE}\n`;
}

export function unitTexts(c: CallinConfig, tm3: string): { socket: string; service: string } {
  const data = { version: VERSION, port: String(c.port), tm3 };
  return { socket: render('tm3-callin.socket', data), service: render('tm3-callin@.service', data) };
}
