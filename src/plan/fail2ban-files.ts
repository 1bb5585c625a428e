import type { Config } from '../store/config.js';
import type { Paths } from '../store/paths.js';
import type { PlannedFile } from './files.js';
import { render } from './render.js';
import { VERSION } from '../version.js';

/** Where tm3 callin agi logs wrong PINs for the tm3-callin jail (restart creates it empty). */
export const CALLIN_LOG = '/var/log/tm3/callin.log';

/** The jail drop-in, the tm3-ipset action and fail2ban's own paths, all under the root. */
/** `exempt`: addresses never banned besides loopback and trusted (admin entries, the server's own). */
/** `asteriskTwins`: Asterisk logs each failure twice to the jail's file (store/asterisk-logger.ts). */
export function fail2banFiles(config: Config, paths: Paths, tm3: string, systemd: boolean, exempt: string[] = [], asteriskTwins = false): PlannedFile[] {
  const f = paths.f2b;
  const data = {
    version: VERSION, tm3, systemd, asteriskTwins, ...config.fail2ban,
    asteriskLog: paths.at(config.fail2ban.asteriskLog), callinLog: paths.at(CALLIN_LOG), authLog: paths.at('/var/log/auth.log'),
    fail2banLog: f.log, logFile: f.log, socket: f.socket, pidFile: f.pid, dbFile: f.db,
    bantime: String(config.fail2ban.bantime), findtime: String(config.fail2ban.findtime), maxretry: String(config.fail2ban.maxretry),
    asteriskMaxretry: String(2 * config.fail2ban.maxretry - 1),
    // never banned, whatever a log line says: a SIP display name is the attacker's to write
    ignore: ['127.0.0.0/8', '::1', ...(config.fail2ban.banTrusted ? [] : config.firewall.trusted.map((n) => n.cidr)), ...exempt].filter((c, i, a) => a.indexOf(c) === i),
  };
  return [
    { path: `${f.conf}/jail.d/tm3.local`, text: render('fail2ban-jail.local', data), mode: 0o644 },
    { path: `${f.conf}/filter.d/tm3-callin.conf`, text: render('fail2ban-tm3-callin.conf', data), mode: 0o644 },
    { path: `${f.conf}/action.d/tm3-ipset.conf`, text: render('fail2ban-action.conf', data), mode: 0o644 },
    { path: `${f.conf}/action.d/tm3-ban.py`, text: render('fail2ban-ban-action.py', data), mode: 0o644 },
    { path: `${f.conf}/fail2ban.d/tm3.local`, text: render('fail2ban.local', data), mode: 0o644 },
  ];
}
