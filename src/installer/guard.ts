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

/** Ask on the terminal; false when nobody answers "yes" within the window (as iptables-apply). */
export function confirmWithin(seconds: number, question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const timer = setTimeout(() => { process.stdout.write('\nno answer\n'); rl.close(); resolve(false); }, seconds * 1000);
    rl.question(`${question} Type "yes" within ${seconds} s to keep it: `, (answer) => {
      clearTimeout(timer);
      rl.close();
      resolve(answer.trim().toLowerCase() === 'yes');
    });
  });
}
