import type { Config } from '../store/config.js';
import type { Paths } from '../store/paths.js';
import type { Person } from '../model/person.js';
import type { PlannedFile } from './files.js';
import { render } from './render.js';
import { VERSION } from '../version.js';
import { CALLIN_LOG } from './fail2ban-files.js';

export interface SpaInputs {
  people: Person[];
  /** where fwknopd sniffs (the knock interface) */
  interface: string;
  server: string;
  addressKnown: boolean;
  tm3: string;
  /** the site-wide knock, when knocking is on: the cards mention it */
  knockSequence?: number[];
}

export const grantSeconds = (config: Config, p: Person) => p.grantSeconds ?? config.knock.grantSeconds;

/** fwknopd.conf and access.conf (one stanza per person), mode 600: access.conf holds every key. */
export function spaFiles(config: Config, paths: Paths, s: SpaInputs): PlannedFile[] {
  const people = s.people.map((p) => ({ ...p, seconds: String(grantSeconds(config, p)) }));
  const data = { version: VERSION, interface: s.interface, port: String(config.spa.port), digestFile: paths.inServer(paths.fwknopDigests), pidFile: '/run/fwknop/fwknopd.pid', people, tm3: s.tm3, grantScript: paths.knockGrant };
  return [
    { path: paths.fwknopdConf, text: render('fwknopd.conf', data), mode: 0o600 },
    { path: paths.fwknopAccess, text: render('fwknop-access.conf', data), mode: 0o600 },
  ];
}

/** Each person's card, /root/tm3-users/NAME.FAQ (mode 600: it holds their key). */
export function cardFile(config: Config, paths: Paths, s: SpaInputs, p: Person): PlannedFile {
  const data = {
    version: VERSION, name: p.name, server: s.server, addressKnown: s.addressKnown, services: p.services, expires: p.expires ?? '', expiresDay: p.expires?.slice(0, 10) ?? '', expiresTime: p.expires?.slice(11, 16) ?? '', permanent: p.permanent,
    grantMinutes: String(Math.max(1, Math.round(grantSeconds(config, p) / 60))), port: String(config.spa.port), key: p.key, hmacKey: p.hmacKey,
    stanza: `tm3-${p.name}`, knock: Boolean(config.knock.enabled && p.knock), sequence: p.knock ?? [], v6: s.server.includes(':'), contact: config.server.adminContact,
  };
  return { path: paths.userCard(p.name), text: render('person.FAQ', data), mode: 0o600 };
}

/** The audit log and fwknopd's log, rotated weekly. */
export function logrotateFile(paths: Paths): PlannedFile {
  return { path: paths.logrotate, text: render('logrotate', { version: VERSION, auditLog: paths.inServer(paths.auditLog), fwknopdLog: paths.inServer(paths.fwknopdLog), callinLog: CALLIN_LOG }), mode: 0o644 };
}
