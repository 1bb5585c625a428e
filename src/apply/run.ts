import { execa } from 'execa';
import { PrereqError, Tm3Error } from '../model/errors.js';

// Which Debian package provides each tool we run, for the "not installed" fix line.
const PACKAGES: Record<string, string> = {
  iptables: 'iptables', 'iptables-restore': 'iptables', ip6tables: 'iptables', 'ip6tables-restore': 'iptables',
  'iptables-save': 'iptables', 'ip6tables-save': 'iptables', ipset: 'ipset', logger: 'bsdutils', systemctl: 'systemd',
  sh: 'dash', 'fail2ban-client': 'fail2ban', knockd: 'knockd', ip: 'iproute2', ss: 'iproute2', unshare: 'util-linux',
};

export interface RunResult { stdout: string; stderr: string; exitCode: number }

/**
 * The one place tm3 starts a process: argument arrays only, never a shell string.
 * A failure becomes a Tm3Error that shows the command and what it said.
 */
export async function run(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const shown = [cmd, ...args].join(' ');
  const result = await execa(cmd, args, {
    input: opts.input,
    cwd: opts.cwd,
    reject: false,
    timeout: opts.timeoutMs ?? 120_000,
    stripFinalNewline: true,
    env: { ...opts.env, LC_ALL: 'C' },
  });
  const code = (result as { code?: string }).code;
  if (code === 'ENOENT' || result.exitCode === 127) {
    throw new PrereqError(`${cmd} is not installed`, `apt-get install ${PACKAGES[cmd] ?? cmd}`, shown);
  }
  if (code === 'EACCES' || /Permission denied|Operation not permitted|you must be root/i.test(result.stderr ?? '')) {
    if (!opts.allowFail) throw new PrereqError(`${cmd} was not allowed to change the firewall`, 'run tm3 as root', `${shown}\n${result.stderr}`);
  }
  const exitCode = result.exitCode ?? 1;
  if (exitCode !== 0 && !opts.allowFail) {
    const said = String(result.stderr || result.stdout || (result.timedOut ? 'timed out' : 'no output')).trim().split('\n').slice(0, 5).join('\n');
    throw new Tm3Error(`${cmd} failed (exit ${exitCode}): ${said.split('\n')[0]}`, 'the previous firewall state is still in force; fix the cause above and run tm3 restart', 1, `$ ${shown}\n${said}`);
  }
  return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), exitCode };
}
