import { spawn } from 'node:child_process';
import { PrereqError, Tm3Error } from '../model/errors.js';

// Which Debian package provides each tool we run, for the "not installed" fix line.
const PACKAGES: Record<string, string> = {
  iptables: 'iptables', 'iptables-restore': 'iptables', ip6tables: 'iptables', 'ip6tables-restore': 'iptables',
  'iptables-save': 'iptables', 'ip6tables-save': 'iptables', ipset: 'ipset', logger: 'bsdutils', systemctl: 'systemd',
  sh: 'dash', 'fail2ban-client': 'fail2ban', knockd: 'knockd', ip: 'iproute2', ss: 'iproute2',
};

export interface RunResult { stdout: string; stderr: string; exitCode: number }

interface Raw { stdout: string; stderr: string; exitCode?: number; code?: string; timedOut: boolean }

// node:child_process rather than execa: execa's import alone is ~90 ms of every command's start,
// and `tm3 knock grant` runs between a knock and the door opening.
function spawnTool(cmd: string, args: string[], opts: { input?: string; timeoutMs: number; cwd?: string; env?: Record<string, string> }): Promise<Raw> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let exitCode: number | undefined;
    const text = (b: Buffer[]) => Buffer.concat(b).toString('utf8').replace(/\n$/, '');
    const done = (extra: Partial<Raw> = {}) => { clearTimeout(timer); resolve({ stdout: text(out), stderr: text(err), exitCode, timedOut, ...extra }); };
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env, LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGTERM'); }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined); // EPIPE: the tool exited without reading its input
    child.stdin.end(opts.input ?? '');
    child.once('error', (e: NodeJS.ErrnoException) => done({ code: e.code }));
    // A daemon that forks (knockd -d, fail2ban-server) may keep our pipes open: after the exit,
    // give its output a moment to arrive, then stop waiting for the pipes to close.
    child.once('exit', (c) => {
      exitCode = c ?? undefined;
      setTimeout(() => { child.stdout.destroy(); child.stderr.destroy(); done(); }, 2000).unref();
    });
    child.once('close', () => done());
  });
}

/**
 * The one place tm3 starts a process: argument arrays only, never a shell string.
 * A failure becomes a Tm3Error that shows the command and what it said.
 */
export async function run(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const shown = [cmd, ...args].join(' ');
  const result = await spawnTool(cmd, args, { input: opts.input, cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 120_000, env: opts.env });
  const code = result.code;
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
