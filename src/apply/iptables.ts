import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

/** The whole filter table as `iptables -S` prints it now. */
export async function printRules(family: Family): Promise<string> {
  return (await run(bin(family), ['-w', '5', '-S'])).stdout;
}

/**
 * A ruleset as this kernel would print it (`iptables -S`), loaded into a scratch network namespace
 * (unshare -n) with its sets created empty: the current namespace is not touched. As tm3-failsafe
 * does, so a dry run compares like with like. Undefined when it cannot be loaded there.
 */
export async function canonicalRules(family: Family, rules: string, setCreates: string[]): Promise<string | undefined> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tm3-canon-'));
  try {
    await fs.writeFile(path.join(dir, 'sets'), `${setCreates.join('\n')}\n`, { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'rules'), rules, { mode: 0o600 });
    // a fixed script; the files are its arguments, never pasted into it
    const script = `ipset restore < "$1" && ${bin(family, '-restore')} -w 5 < "$2" && ${bin(family)} -w 5 -S`;
    const r = await run('unshare', ['-n', 'sh', '-c', script, 'tm3-canon', path.join(dir, 'sets'), path.join(dir, 'rules')], { allowFail: true });
    return r.exitCode === 0 ? r.stdout : undefined;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
