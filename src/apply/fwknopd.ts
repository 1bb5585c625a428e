import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { run } from './run.js';
import { hasSystemd, systemctl, restartUnit } from './system.js';
import { Tm3Error } from '../model/errors.js';
import type { Paths } from '../store/paths.js';
import { pidAlive } from './knockd.js';

const UNIT = 'fwknop-server.service';

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
    const u = await restartUnit(UNIT);
    if (!u.active) throw new Tm3Error(`${UNIT} is ${u.state} after a restart`, 'journalctl -u fwknop-server says why');
    return 'restarted (systemd)';
  }
  await stopFwknopd(paths);
  fs.mkdirSync(paths.runDir, { recursive: true });
  fs.mkdirSync(path.dirname(paths.fwknopDigests), { recursive: true });
  fs.mkdirSync(path.dirname(paths.fwknopdLog), { recursive: true });
  const args = ['-c', paths.fwknopdConf, '-a', paths.fwknopAccess, '-i', iface, '-p', paths.fwknopdPid, '-d', paths.fwknopDigests];
  const check = await run('fwknopd', [...args, '--exit-parse-config'], { allowFail: true });
  if (check.exitCode !== 0) throw new Tm3Error(`fwknopd refuses its config: ${(check.stderr || check.stdout).trim().split('\n').pop()}`, `fwknopd -c ${paths.fwknopdConf} -a ${paths.fwknopAccess} --exit-parse-config says more`);
  // in the foreground, detached, its output kept in the log: without syslog a lab still says why
  const log = fs.openSync(paths.fwknopdLog, 'a', 0o600);
  spawn('fwknopd', ['-f', '--verbose', ...args], { detached: true, stdio: ['ignore', log, log] }).unref();
  fs.closeSync(log);
  for (let i = 0; i < 100 && !pidAlive(paths.fwknopdPid); i++) await new Promise((res) => setTimeout(res, 20));
  const pid = pidAlive(paths.fwknopdPid);
  // It writes its pid before it opens the capture: a packet sent in between would be missed, so
  // wait (2 s at most) until its packet socket is there. A revoke or rotate then hands back a
  // daemon that hears the next packet.
  for (let i = 0; pid && i < 40; i++) {
    const { stdout } = await run('ss', ['-H', '-0', '-p'], { allowFail: true });
    if (stdout.includes(`pid=${pid},`)) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  return `running (pid ${pid ?? '?'})`;
}

/** Stopped; with `disable`, also off at boot (nobody left to let in: no failed unit at every boot). */
export async function stopFwknopd(paths: Paths, disable = false): Promise<void> {
  if (hasSystemd(paths.root)) {
    if (disable) await systemctl(['disable', '--quiet', UNIT], true);
    await systemctl(['stop', UNIT], true);
    return;
  }
  const pid = pidAlive(paths.fwknopdPid);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && pidAlive(paths.fwknopdPid); i++) await new Promise((res) => setTimeout(res, 20));
}
