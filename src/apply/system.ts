import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { run } from './run.js';
import { parseTrace, type AdminFailure } from '../plan/admin-trace.js';

/** Tag every action in syslog/the journal; a box without a syslog socket just skips it. */
export async function syslog(message: string, priority: 'info' | 'warning' | 'err' = 'info'): Promise<void> {
  if (process.env.TM3_NO_SYSLOG === '1') return;
  await run('logger', ['--socket-errors=off', '-t', 'tm3', '-p', `auth.${priority}`, '--', message], { allowFail: true }).catch(() => undefined);
}

/** True on a host booted with systemd, where daemons are systemctl's business. */
export function hasSystemd(root: string): boolean {
  return root === '/' && fs.existsSync('/run/systemd/system');
}

export async function systemctl(args: string[], allowFail = false) {
  return run('systemctl', args, { allowFail });
}

/**
 * Restart a daemon for real: enabled (so it comes back after a reboot), reset first (a unit left
 * failed, as Fail2Ban is on a bookworm box without rsyslog, is one try-restart never touches), then
 * restarted, and the state returned is the one systemd reports afterwards, never assumed.
 */
export async function restartUnit(unit: string): Promise<{ active: boolean; state: string }> {
  await systemctl(['enable', '--quiet', unit], true);
  await systemctl(['reset-failed', unit], true);
  const r = await systemctl(['restart', unit], true);
  let state = (await systemctl(['is-active', unit], true)).stdout.trim() || 'unknown';
  if (state === 'active') {
    // knockd and fail2ban-server are Type=simple: "active" as soon as they are forked, even when
    // they exit a moment later (a missing NIC, a bad jail). Look again before saying so.
    await new Promise((res) => setTimeout(res, 300));
    state = (await systemctl(['is-active', unit], true)).stdout.trim() || 'unknown';
  }
  const why = r.exitCode === 0 ? '' : ` (${(r.stderr.trim().split('\n')[0] || `exit ${r.exitCode}`)})`;
  return { active: state === 'active', state: `${state}${why}` };
}

/**
 * The admin's iptables-custom: failures are reported, never fatal (the original's promise).
 * `loaded`: the caller has just brought every set and both rule files to the plan, so the script skips reloading them.
 */
export async function runCustomScript(file: string, loaded = false): Promise<{ ok: boolean; output: string; failures: AdminFailure[] }> {
  // The file itself, as the boot runs it, traced (see admin-trace.ts): nothing is added to its text.
  const token = `tm3-admin-${randomBytes(8).toString('hex')}`;
  const env: Record<string, string> = { PS4: `${token} `, ...(loaded ? { TM3_LOADED: '1' } : {}) };
  const r = await run('sh', ['-x', file], { allowFail: true, timeoutMs: 300_000, env });
  const script = await fs.promises.readFile(file, 'utf8').catch(() => '');
  const { failures, output } = parseTrace(script, r.stderr, token);
  return { ok: r.exitCode === 0, output: `${r.stdout}\n${output}`.trim(), failures };
}

/** tm3-failsafe: `check` reports what leaves the box open; `verify` also closes it again. */
export async function runFailsafe(file: string, mode: 'check' | 'verify'): Promise<{ ok: boolean; output: string }> {
  const r = await run('sh', [file, mode], { allowFail: true, timeoutMs: 60_000 });
  return { ok: r.exitCode === 0, output: `${r.stdout}\n${r.stderr}`.trim() };
}
