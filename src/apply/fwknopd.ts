import fs from 'node:fs';
import path from 'node:path';
import { run } from './run.js';
import { hasSystemd, systemctl, restartUnit } from './system.js';
import { Tm3Error } from '../model/errors.js';
import type { Paths } from '../store/paths.js';

const UNIT = 'fwknop-server.service';

function pidAlive(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!pid) return undefined;
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return undefined;
    return pid;
  } catch {
    return undefined;
  }
}

export const fwknopdRunning = (paths: Paths) => (hasSystemd(paths.root)
  ? systemctl(['is-active', '--quiet', UNIT], true).then((r) => r.exitCode === 0)
  : Promise.resolve(pidAlive(paths.fwknopdPid) !== undefined));

/**
 * (Re)start fwknopd on the files tm3 wrote. On systemd, Debian's unit (it reads /etc/fwknop);
 * elsewhere (a lab, the sandbox) tm3 runs it itself with every path under the root. A restart
 * re-reads access.conf, so a revoked person's key stops working at once.
 */
export async function restartFwknopd(paths: Paths, iface: string): Promise<string> {
  if (hasSystemd(paths.root)) {
    await systemctl(['enable', UNIT], true);
    const u = await restartUnit(UNIT);
    if (!u.active) throw new Tm3Error(`${UNIT} is ${u.state} after a restart`, 'journalctl -u fwknop-server says why');
    return 'restarted (systemd)';
  }
  await stopFwknopd(paths);
  fs.mkdirSync(paths.runDir, { recursive: true });
  fs.mkdirSync(path.dirname(paths.fwknopDigests), { recursive: true });
  fs.mkdirSync(path.dirname(paths.fwknopdLog), { recursive: true });
  const r = await run('fwknopd', ['-c', paths.fwknopdConf, '-a', paths.fwknopAccess, '-i', iface, '-p', paths.fwknopdPid, '-d', paths.fwknopDigests], { allowFail: true });
  if (r.exitCode !== 0) throw new Tm3Error(`fwknopd did not start: ${(r.stderr || r.stdout).trim().split('\n').pop()}`, `fwknopd -c ${paths.fwknopdConf} -a ${paths.fwknopAccess} --exit-parse-config says what it refuses`);
  for (let i = 0; i < 100 && !pidAlive(paths.fwknopdPid); i++) await new Promise((res) => setTimeout(res, 20));
  return `running (pid ${pidAlive(paths.fwknopdPid) ?? '?'})`;
}

export async function stopFwknopd(paths: Paths): Promise<void> {
  if (hasSystemd(paths.root)) { await systemctl(['stop', UNIT], true); return; }
  const pid = pidAlive(paths.fwknopdPid);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && pidAlive(paths.fwknopdPid); i++) await new Promise((res) => setTimeout(res, 20));
}
