import type { Family } from '../model/address.js';
import { run } from './run.js';

const bin = (f: Family, suffix = '') => `${f === 4 ? 'iptables' : 'ip6tables'}${suffix}`;

/** Check a whole ruleset without applying it. */
export async function testRules(family: Family, text: string): Promise<void> {
  await run(bin(family, '-restore'), ['-w', '5', '--test'], { input: text });
}

/** Replace the filter table in one transaction; on failure the old table stays. */
export async function restoreRules(family: Family, text: string): Promise<void> {
  await run(bin(family, '-restore'), ['-w', '5'], { input: text });
}

export async function saveRules(family: Family): Promise<string> {
  return (await run(bin(family, '-save'), ['-t', 'filter'])).stdout;
}

/** "-P INPUT DROP" -> "DROP" */
export async function inputPolicy(family: Family): Promise<string> {
  const { stdout } = await run(bin(family), ['-w', '5', '-S', 'INPUT']);
  return /^-P INPUT (\S+)/m.exec(stdout)?.[1] ?? 'unknown';
}

/** Rule lines of one chain as iptables -S prints them; [] when the chain does not exist. */
export async function chainRules(family: Family, chain: string): Promise<string[] | undefined> {
  const r = await run(bin(family), ['-w', '5', '-S', chain], { allowFail: true });
  if (r.exitCode !== 0) return undefined;
  return r.stdout.split('\n').filter((l) => l.startsWith('-A '));
}
