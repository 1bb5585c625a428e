import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from './run.js';
import { PrereqError } from '../model/errors.js';
import { hasSystemd, systemctl, restartUnit } from './system.js';
import type { Paths } from '../store/paths.js';

const client = (paths: Paths, args: string[], allowFail = true) =>
  run('fail2ban-client', ['-c', paths.f2b.conf, '-s', paths.f2b.socket, '-p', paths.f2b.pid, ...args], { allowFail, timeoutMs: 60_000 });

/** A root without fail2ban's config gets a copy of the system's, for tm3's drop-ins to sit in. */
export async function seedConfig(paths: Paths): Promise<boolean> {
  if (paths.root === '/') return false;
  try { await fs.access(path.join(paths.f2b.conf, 'jail.conf')); return false; } catch { /* seed it */ }
  await fs.cp('/etc/fail2ban', paths.f2b.conf, { recursive: true, force: false, errorOnExist: false });
  return true;
}

/** Config says enabled, but is the package there? The original restarted Fail2Ban "when present". */
export async function fail2banInstalled(): Promise<boolean> {
  return run('fail2ban-client', ['--version'], { allowFail: true }).then(() => true, (e) => (e instanceof PrereqError ? false : Promise.reject(e)));
}

export async function fail2banRunning(paths: Paths): Promise<boolean> {
  if (hasSystemd(paths.root)) return (await systemctl(['is-active', '--quiet', 'fail2ban.service'], true)).exitCode === 0;
  if (!(await fail2banInstalled())) return false;
  return (await client(paths, ['ping'])).exitCode === 0;
}

/** Check the rendered configuration without starting anything. */
export async function testConfig(paths: Paths) {
  return client(paths, ['-t']);
}

/**
 * With systemd, fail2ban.service; elsewhere tm3 runs fail2ban-server itself with everything
 * under the root. A running server is reloaded: its bans stay in the kernel sets either way.
 */
export async function restartFail2ban(paths: Paths): Promise<string> {
  if (hasSystemd(paths.root)) {
    const u = await restartUnit('fail2ban.service');
    return u.active ? 'restarted' : `failed: fail2ban.service is ${u.state} (journalctl -u fail2ban says why)`;
  }
  for (const dir of [path.dirname(paths.f2b.socket), path.dirname(paths.f2b.db), path.dirname(paths.f2b.log), path.dirname(paths.f2b.pid)]) await fs.mkdir(dir, { recursive: true });
  if (await fail2banRunning(paths)) {
    const r = await client(paths, ['reload']);
    return r.exitCode === 0 ? 'reloaded' : `reload failed: ${r.stderr.trim() || r.stdout.trim()}`;
  }
  const r = await client(paths, ['-x', 'start']);
  return r.exitCode === 0 ? 'started' : `start failed: ${(r.stderr.trim() || r.stdout.trim()).split('\n').pop()}`;
}

export async function stopFail2ban(paths: Paths): Promise<void> {
  if (!hasSystemd(paths.root)) await client(paths, ['stop']);
}

/** Lift bans in every jail (fail2ban 0.10+ `unban`); quiet when fail2ban is not running. */
export async function unbanEverywhere(paths: Paths, addresses: string[]): Promise<void> {
  if (addresses.length) await client(paths, ['unban', ...addresses]);
}

/** The jails tm3 renders; each gets the same never-banned list. */
export const JAILS = ['asterisk', 'sshd', 'recidive'];

/** Change a running server's never-banned list in place (no reload, no process per attacker). */
export async function changeIgnored(paths: Paths, add: string[], del: string[]): Promise<void> {
  for (const jail of JAILS) {
    for (const a of add) await client(paths, ['set', jail, 'addignoreip', a]);
    for (const d of del) await client(paths, ['set', jail, 'delignoreip', d]);
  }
}
