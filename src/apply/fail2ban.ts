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
  // The server answers on its socket and makes it when it starts: without one nothing can
  // answer, and two Python starts (about half a second) are saved on every such restart.
  if (!(await fs.lstat(paths.f2b.socket).then(() => true, () => false))) return false;
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
    // --restart: each jail stops and starts again. A plain reload in fail2ban 1.0.2 drops an
    // action the reload adds (an upgrade from the tm3-ipset action to tm3-ban.py would leave the
    // sshd and recidive jails banning nothing). The bans stay in the kernel sets either way.
    const r = await client(paths, ['reload', '--restart']);
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

/** One jail's ban on an address: secondsLeft is null for a ban that never ends (bantime -1). */
export interface JailBan { jail: string; address: string; secondsLeft: number | null }

/**
 * `get JAIL banip --with-time` lines (fail2ban 0.11+, Debian 12 has 1.0.2), local time:
 * "192.0.2.30 \t2026-11-26 21:40:01 + 3600 = 2026-11-26 22:40:01". Pure, for the tests.
 */
export function parseBanTimes(jail: string, text: string, now = Date.now()): JailBan[] {
  const out: JailBan[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+\S+ \S+ \+ (-?\d+) = (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)/.exec(line.trim());
    if (!m) continue;
    const end = Date.parse(`${m[3]}T${m[4]}`);
    out.push({ jail, address: m[1], secondsLeft: Number(m[2]) < 0 ? null : Math.max(0, Math.round((end - now) / 1000)) });
  }
  return out;
}

/** "`- Jail list:\tasterisk, sshd" -> ['asterisk', 'sshd'] */
export const parseJailList = (text: string) => (/Jail list:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/[,\s]+/).filter(Boolean);

/** Every running jail's bans with their time left; [] when Fail2Ban is not running. */
export async function jailBans(paths: Paths): Promise<JailBan[]> {
  const st = await client(paths, ['status']);
  if (st.exitCode !== 0) return [];
  const bans: JailBan[] = [];
  for (const jail of parseJailList(st.stdout)) {
    const r = await client(paths, ['get', jail, 'banip', '--with-time']);
    if (r.exitCode === 0) bans.push(...parseBanTimes(jail, r.stdout));
  }
  return bans;
}
