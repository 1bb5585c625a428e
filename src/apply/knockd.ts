import fs from 'node:fs';
import path from 'node:path';
import { run } from './run.js';
import { hasSystemd, systemctl, restartUnit } from './system.js';
import { Tm3Error } from '../model/errors.js';
import type { Paths } from '../store/paths.js';

/** The pid in a daemon's pid file, if that process runs (knockd's, and fwknopd's in the lab). */
export function pidAlive(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!pid) return undefined;
    process.kill(pid, 0);
    // a killed daemon whose parent never reaps it still answers kill(0): a zombie is not running
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return undefined;
    return pid;
  } catch {
    return undefined;
  }
}

export const knockdRunning = (paths: Paths) => (hasSystemd(paths.root)
  ? systemctl(['is-active', '--quiet', 'knockd.service'], true).then((r) => r.exitCode === 0)
  : Promise.resolve(pidAlive(paths.knockdPid) !== undefined));

/** On systemd, knockd.service; elsewhere (a lab, the sandbox) tm3 runs knockd itself, pid under the root. */
export async function restartKnockd(paths: Paths, iface: string): Promise<string> {
  if (hasSystemd(paths.root)) {
    const u = await restartUnit('knockd.service');
    if (!u.active) throw new Tm3Error(`knockd.service is ${u.state} after a restart`, 'journalctl -u knockd says why (often the interface in /etc/default/knockd)');
    return 'restarted (systemd)';
  }
  await stopKnockd(paths);
  fs.mkdirSync(paths.runDir, { recursive: true });
  fs.mkdirSync(path.dirname(paths.knockdLog), { recursive: true });
  await run('knockd', ['-d', '-c', paths.knockdConf, '-i', iface, '-p', paths.knockdPid, '-g', paths.knockdLog]);
  for (let i = 0; i < 50 && !pidAlive(paths.knockdPid); i++) await new Promise((r) => setTimeout(r, 20));
  return `running (pid ${pidAlive(paths.knockdPid) ?? '?'})`;
}

export async function stopKnockd(paths: Paths): Promise<void> {
  if (hasSystemd(paths.root)) { await systemctl(['stop', 'knockd.service'], true); return; }
  const pid = pidAlive(paths.knockdPid);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && pidAlive(paths.knockdPid); i++) await new Promise((r) => setTimeout(r, 20));
}

