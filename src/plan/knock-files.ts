import type { Config } from '../store/config.js';
import type { Paths } from '../store/paths.js';
import type { PlannedFile } from './files.js';
import { render } from './render.js';
import { VERSION } from '../version.js';

export interface KnockInputs {
  sequence: number[]; permanent: boolean; interface: string; server: string; tm3: string;
  /** `server` is [server] public_address, or an interface address the internet can reach (not private) */
  addressKnown?: boolean;
}

/** knockd.conf, /etc/default/knockd and knock.FAQ (mode 600: it is the key). */
export function knockFiles(config: Config, paths: Paths, k: KnockInputs): PlannedFile[] {
  const data = {
    version: VERSION, ...k, addressKnown: k.addressKnown ?? true, v6: k.server.includes(':'), contact: config.server.adminContact, logFile: paths.knockdLog, pidFile: paths.knockdPid, grantMinutes: String(Math.max(1, Math.round(config.knock.grantSeconds / 60))),
  };
  return [
    { path: paths.knockdConf, text: render('knockd.conf', data), mode: 0o600 },
    { path: paths.knockdDefault, text: render('knockd.default', data), mode: 0o644 },
    { path: paths.knockFaq, text: render('knock.FAQ', data), mode: 0o600 },
  ];
}
