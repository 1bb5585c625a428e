import type { Config } from '../store/config.js';
import type { Paths } from '../store/paths.js';
import type { PlannedFile } from './files.js';
import { render } from './render.js';
import { VERSION } from '../version.js';
import { KNOCK } from './sets.js';

/** One person's own knock, as knockd and the fast path need it (seconds already held to the failsafe's limit). */
export interface PersonKnock { name: string; /** none: SPA only (a person from before personal knocks) */ sequence?: number[]; services: string[]; seconds: number; /** end of access, epoch seconds */ until?: number }

export interface KnockInputs {
  sequence: number[]; permanent: boolean; interface: string; server: string; tm3: string;
  /** people with their own knock: a knockd section each, and the fast path knows them by name */
  people?: PersonKnock[];
  /** `server` is [server] public_address, or an interface address the internet can reach (not private) */
  addressKnown?: boolean;
}

/** knockd.conf, the grant script it runs, /etc/default/knockd and knock.FAQ (mode 600: it is the key). */
export function knockFiles(config: Config, paths: Paths, k: KnockInputs): PlannedFile[] {
  const data = {
    version: VERSION, ...k, addressKnown: k.addressKnown ?? true, v6: k.server.includes(':'), contact: config.server.adminContact, logFile: paths.knockdLog, pidFile: paths.knockdPid, grantMinutes: String(Math.max(1, Math.round(config.knock.grantSeconds / 60))),
    grantScript: paths.knockGrant, people: (k.people ?? []).filter((p) => p.sequence),
  };
  const script = {
    version: VERSION, tm3: k.tm3, self: paths.inServer(paths.knockGrant), knockdConf: paths.inServer(paths.knockdConf), knockState: paths.knockState, lockDir: paths.runDir,
    grantSeconds: config.knock.grantSeconds, services: config.knock.services.join(','), servicesList: config.knock.services, fail2ban: String(config.fail2ban.enabled),
    auditLog: paths.auditLog, people: (k.people ?? []).map((p) => ({ ...p, until: p.until ?? '', servicesText: p.services.join(','), sets: p.services.map((s) => `${KNOCK}-${s}`) })),
  };
  return [
    { path: paths.knockGrant, text: render('knock-grant', script), mode: 0o755 },
    { path: paths.knockdConf, text: render('knockd.conf', data), mode: 0o600 },
    { path: paths.knockdDefault, text: render('knockd.default', data), mode: 0o644 },
    { path: paths.knockFaq, text: render('knock.FAQ', data), mode: 0o600 },
  ];
}
