import path from 'node:path';
import { InputError } from '../model/errors.js';

// Generated shell and unit files embed these paths, so only plain characters are allowed.
const SAFE_PATH = /^\/[A-Za-z0-9._/+-]*$/;

export function validateRoot(text: string): string {
  const root = path.resolve(text || '/');
  if (!SAFE_PATH.test(root) || root.split('/').includes('..')) {
    throw new InputError(`root '${text}' has characters tm3 will not put into generated scripts`, 'use a directory path of letters, digits, . _ - + and /');
  }
  return root;
}

export function validateAbsPath(text: string, what: string): string {
  if (!SAFE_PATH.test(text) || text.split('/').includes('..')) {
    throw new InputError(`${what} '${text}' is not a plain absolute path`, 'use an absolute path of letters, digits, . _ - + and /, without ..');
  }
  return path.normalize(text);
}

/** Every path tm3 touches, under one root prefix (ARCHITECTURE.md "The two roots"). */
export class Paths {
  constructor(readonly root: string, readonly storeDirAbs = '/root') {}

  /** host path of an absolute in-server path */
  at(p: string): string {
    return this.root === '/' ? p : path.join(this.root, p);
  }
  get configFile() { return this.at('/etc/tm3/tm3.conf'); }
  get configDir() { return this.at('/etc/tm3/tm3.conf.d'); }
  get storeDir() { return this.at(this.storeDirAbs); }
  get rulesV4() { return this.at('/etc/iptables/rules.v4'); }
  get rulesV6() { return this.at('/etc/iptables/rules.v6'); }
  get ipsets() { return this.at('/etc/iptables/ipsets'); }
  get custom() { return this.at('/usr/local/sbin/iptables-custom'); }
  get stateDir() { return this.at('/var/lib/tm3'); }
  get cache() { return this.at('/var/lib/tm3/resolved.json'); }
  get backups() { return this.at('/var/backups/tm3'); }
  get failsafe() { return this.at('/usr/local/sbin/tm3-failsafe'); }
  get refreshSoon() { return this.at('/usr/local/sbin/tm3-refresh-soon'); }
  get runDir() { return this.at('/run/tm3'); }
  get hookIfupdown() { return this.at('/etc/network/if-up.d/tm3'); }
  get hookNetworkManager() { return this.at('/etc/NetworkManager/dispatcher.d/90-tm3'); }
  get hookNetworkd() { return this.at('/etc/networkd-dispatcher/routable.d/90-tm3'); }
  get knockState() { return this.at('/var/lib/tm3/knock.ini'); }
  /** what knockd runs for a right knock: the shell fast path (templates/knock-grant.hbs) */
  get knockGrant() { return this.at('/usr/local/sbin/tm3-knock-grant'); }
  get knockdConf() { return this.at('/etc/knockd.conf'); }
  get knockdDefault() { return this.at('/etc/default/knockd'); }
  get knockFaq() { return path.join(this.storeDir, 'knock.FAQ'); }
  get knockdPid() { return this.at('/run/tm3/knockd.pid'); }
  get knockdLog() { return this.at('/var/log/tm3-knockd.log'); }
  /** people (issue 18): one file each, their SPA keys inside */
  get usersDir() { return this.at('/etc/tm3/users'); }
  userFile(name: string) { return path.join(this.usersDir, `${name}.conf`); }
  get cardsDir() { return this.at('/root/tm3-users'); }
  userCard(name: string) { return path.join(this.cardsDir, `${name}.FAQ`); }
  /** which person each live grant belongs to, and when each person last got in */
  get grantOwners() { return this.at('/var/lib/tm3/grant-people'); }
  get lastAccess() { return this.at('/var/lib/tm3/last-access'); }
  get fwknopdConf() { return this.at('/etc/fwknop/fwknopd.conf'); }
  get fwknopAccess() { return this.at('/etc/fwknop/access.conf'); }
  get fwknopdDefault() { return this.at('/etc/default/fwknop-server'); }
  get fwknopdPid() { return this.at('/run/tm3/fwknopd.pid'); }
  get fwknopdLog() { return this.at('/var/log/tm3/fwknopd.log'); }
  /** replay protection: every SPA packet fwknopd has seen, kept across reboots (not under /run) */
  get fwknopDigests() { return this.at('/var/lib/tm3/fwknop-digest.cache'); }
  get auditLog() { return this.at('/var/log/tm3/access.jsonl'); }
  get logrotate() { return this.at('/etc/logrotate.d/tm3'); }
  /** fail2ban's config, socket, pid, database and log, all under the root */
  get f2b() {
    return { conf: this.at('/etc/fail2ban'), socket: this.at('/run/fail2ban/fail2ban.sock'), pid: this.at('/run/fail2ban/fail2ban.pid'), db: this.at('/var/lib/fail2ban/fail2ban.sqlite3'), log: this.at('/var/log/fail2ban.log') };
  }
  unit(name: string) { return this.at(`/etc/systemd/system/${name}`); }
  /** the in-server path of a host path under the root (for messages and file headers) */
  inServer(file: string) { return this.root === '/' ? file : `/${path.relative(this.root, file)}`; }
  entryFile(name: string) { return path.join(this.storeDir, `${name}.iptables`); }
  withStoreDir(dir: string) { return new Paths(this.root, dir); }
}
