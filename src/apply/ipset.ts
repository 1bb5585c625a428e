import { run } from './run.js';
import { Tm3Error } from '../model/errors.js';
import { setOptions, SET_PREFIX, type SetPlan } from '../plan/sets.js';

const SIDE = '.n';

/** Members of every tm3 set in the kernel, as canonical CIDRs. */
export async function readTm3Sets(): Promise<Map<string, string[]>> {
  const { stdout } = await run('ipset', ['save']);
  const sets = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const [verb, name, member] = line.split(' ');
    if (!name?.startsWith(SET_PREFIX) || name.endsWith(SIDE)) continue;
    if (verb === 'create') sets.set(name, []);
    else if (verb === 'add' && member) sets.get(name)?.push(member.includes('/') ? member : `${member}/${member.includes(':') ? 128 : 32}`);
  }
  for (const members of sets.values()) members.sort();
  return sets;
}

/** Load each set into a side set and swap it in: the live set changes in one step. */
export function swapScript(sets: SetPlan[], existing: Set<string>): string {
  const lines: string[] = [];
  for (const s of sets) {
    if (!existing.has(s.name)) lines.push(`create ${s.name} ${setOptions(s)}`);
    if (s.timed) continue; // live grants and bans are never replaced
    lines.push(`create ${s.name}${SIDE} ${setOptions(s)}`);
    for (const m of s.members) lines.push(`add ${s.name}${SIDE} ${m}`);
    lines.push(`swap ${s.name}${SIDE} ${s.name}`, `destroy ${s.name}${SIDE}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function swapSets(sets: SetPlan[], existing: Set<string>): Promise<void> {
  if (sets.length === 0) return;
  // Side sets left by a killed run would make "create" fail; they hold nothing live. One listing
  // instead of a destroy per set: at ~5 ms a process, two dozen of them were a tenth of a restart.
  const names = new Set((await run('ipset', ['list', '-n'])).stdout.split('\n'));
  for (const s of sets) if (names.has(`${s.name}${SIDE}`)) await run('ipset', ['-q', 'destroy', `${s.name}${SIDE}`], { allowFail: true });
  await run('ipset', ['restore'], { input: swapScript(sets, existing) });
}

/** Create, empty, the planned sets the kernel lacks: new rules can then be tested before any live set changes. */
export async function createMissingSets(sets: SetPlan[], existing: Set<string>): Promise<string[]> {
  const missing = sets.filter((s) => !existing.has(s.name));
  if (missing.length) await run('ipset', ['restore', '-exist'], { input: `${missing.map((s) => `create ${s.name} ${setOptions(s)}`).join('\n')}\n` });
  return missing.map((s) => s.name);
}

/**
 * Is `address` in ban set `set`? Fail closed: only ipset's own "is NOT in set" means no, and a
 * missing set means no only when `mayBeMissing` (Fail2Ban off: no rule drops bans then).
 * The knock fast path (templates/knock-grant.hbs) reads ipset's answer the same way.
 */
export async function banned(set: string, address: string, mayBeMissing: boolean): Promise<boolean> {
  const r = await run('ipset', ['test', set, address], { allowFail: true });
  if (r.exitCode === 0) return true;
  if (/is NOT in set/.test(r.stderr)) return false;
  if (mayBeMissing && /set with the given name does not exist/.test(r.stderr)) return false;
  throw new Tm3Error(`ipset could not say whether ${address} is in ${set}: ${r.stderr.trim().split('\n')[0] || `exit ${r.exitCode}`}`, 'tm3 restart creates the sets; until then nothing that a ban would stop is granted', 1);
}

/** A knock grant: the kernel removes it after `seconds`; a repeated knock renews it. */
export async function addTimed(set: string, address: string, seconds: number): Promise<void> {
  await run('ipset', ['add', set, address, 'timeout', String(seconds), '-exist']);
}

/** Take addresses out of a set (a ban lifted); absent ones are fine. */
export async function removeMembers(set: string, addresses: string[]): Promise<void> {
  if (addresses.length === 0) return;
  await run('ipset', ['restore', '-exist'], { input: `${addresses.map((a) => `del ${set} ${a}`).join('\n')}\n`, allowFail: true });
}

/** Remove tm3 sets no longer planned (a service taken out of the catalog). In use ones stay. */
export async function destroySets(names: string[]): Promise<void> {
  for (const n of names) await run('ipset', ['destroy', n], { allowFail: true });
}

/** Is the address in the set? A set that does not exist holds nobody. */
export async function memberOf(set: string, address: string): Promise<boolean> {
  return (await run('ipset', ['-q', 'test', set, address], { allowFail: true })).exitCode === 0;
}
