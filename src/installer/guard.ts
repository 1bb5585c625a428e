import { createInterface } from 'node:readline';
import { restoreRules, saveRules } from '../apply/iptables.js';

export interface Snapshot { v4: string; v6: string }

export async function snapshotKernel(): Promise<Snapshot> {
  return { v4: await saveRules(4), v6: await saveRules(6) };
}

export async function restoreKernel(s: Snapshot): Promise<void> {
  await restoreRules(4, s.v4);
  await restoreRules(6, s.v6);
}

// A hang-up, Ctrl-C or kill while waiting is a "no": the SSH session that would confirm is gone
// (sshd's ClientAlive timeout on a frozen session sends exactly that SIGHUP).
const GIVE_UP = ['SIGHUP', 'SIGTERM', 'SIGINT'] as const;

/** Ask on the terminal; false when nobody answers "yes" within the window (as iptables-apply). */
export function confirmWithin(seconds: number, question: string): Promise<boolean> {
  return new Promise((resolve) => {
    // no raw mode: a terminal that hangs up must not turn closing the prompt into an error
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: false });
    let settled = false;
    // Some kernels and sandboxes deliver neither SIGHUP nor EIO when a terminal goes away; the
    // process that started us (the login shell, or sshd's session) dying is the same news.
    const parent = process.ppid;
    const orphaned = setInterval(() => { if (process.ppid !== parent) hangup(); }, 200);
    const done = (yes: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(orphaned);
      process.stdin.removeListener('error', hangup);
      for (const sig of GIVE_UP) process.removeListener(sig, hangup);
      // Without "yes" the caller rolls back next, and that must finish. A hang-up often shows as
      // the end of input first and its SIGHUP a moment later: with no listener left, Node's
      // default for SIGHUP would kill us before the rollback, leaving the cut in force.
      if (!yes) for (const sig of GIVE_UP) process.on(sig, () => undefined);
      rl.close();
      resolve(yes);
    };
    const hangup = () => {
      // the terminal may be gone: a failed write must not end the process before the rollback
      for (const s of [process.stdin, process.stdout, process.stderr]) { s.removeAllListeners('error'); s.on('error', () => undefined); }
      done(false);
    };
    for (const sig of GIVE_UP) process.once(sig, hangup);
    // a hung-up terminal also shows as a read error (EIO) or the end of input
    process.stdin.on('error', hangup);
    rl.on('error', hangup);
    rl.once('close', () => done(false));
    const timer = setTimeout(() => { process.stdout.write('\nno answer\n'); done(false); }, seconds * 1000);
    rl.question(`${question} Type "yes" within ${seconds} s to keep it: `, (answer) => done(answer.trim().toLowerCase() === 'yes'));
  });
}
