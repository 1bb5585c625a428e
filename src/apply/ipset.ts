import { run } from './run.js';
import { Tm3Error } from '../model/errors.js';
import { setOptions, SET_PREFIX, isUnionSet, KNOCK_SET_RE, type SetPlan } from '../plan/sets.js';

const SIDE = '.n';

/** A member's counters: what the kernel's set match counted (whitelist sets made with `counters`). */
export interface Hits { packets: number; bytes: number }

export interface SetState {
  /** members of every tm3 set, as canonical CIDRs */
  sets: Map<string, string[]>;
  /** whitelist sets made without counters (by a tm3 before them): a swap converts them */
  lacking: Set<string>;
  /** set -> member CIDR -> counters, for the sets that have them */
  hits: Map<string, Map<string, Hits>>;
  /** the default timeout of every timed tm3 set, from its create line */
  timeouts: Map<string, number>;
  /** knock set -> member as the kernel prints it -> seconds left (0: none): the live grants */
  grants: Map<string, Map<string, number>>;
  /** side sets (NAME.n) a killed run left behind */
  sides: Set<string>;
}

const cidrOf = (member: string) => (member.includes('/') ? member : `${member}/${member.includes(':') ? 128 : 32}`);

/** Every tm3 set in the kernel, from one `ipset save`. */
export async function readSetState(): Promise<SetState> {
  return parseSave((await run('ipset', ['save'])).stdout);
}

/** `ipset save` output as members, counters and sets lacking counters, of tm3's sets only. */
export function parseSave(stdout: string): SetState {
  const sets = new Map<string, string[]>();
  const lacking = new Set<string>();
  const hits = new Map<string, Map<string, Hits>>();
  const timeouts = new Map<string, number>();
  const grants = new Map<string, Map<string, number>>();
  const sides = new Set<string>();
  // Scanned in place, one line at a time: split() on 60,000 lines of 20,000 entries' sets made
  // half a million short-lived strings, much of a restart's peak memory.
  let members: string[] | undefined;
  let counted: Map<string, Hits> | undefined;
  let left: Map<string, number> | undefined;
  let current = '';
  for (let at = 0; at < stdout.length;) {
    let end = stdout.indexOf('\n', at);
    if (end < 0) end = stdout.length;
    const line = stdout.slice(at, end);
    at = end + 1;
    const s1 = line.indexOf(' ');
    if (s1 < 0) continue;
    const s2 = line.indexOf(' ', s1 + 1);
    const name = line.slice(s1 + 1, s2 < 0 ? line.length : s2);
    if (!name.startsWith(SET_PREFIX)) continue;
    if (name.endsWith(SIDE)) {
      if (line.startsWith('create ')) sides.add(name);
      continue;
    }
    if (line.startsWith('create ')) {
      const w = line.split(' ');
      members = [];
      sets.set(name, members);
      current = name;
      if (!w.includes('timeout') && !w.includes('counters') && !isUnionSet(name)) lacking.add(name);
      const t = w.indexOf('timeout');
      if (t > 0) timeouts.set(name, Number(w[t + 1]));
      counted = w.includes('counters') ? new Map() : undefined;
      if (counted) hits.set(name, counted);
      left = KNOCK_SET_RE.test(name) ? new Map() : undefined;
      if (left) grants.set(name, left);
    } else if (line.startsWith('add ') && s2 > 0) {
      // ipset save lists each set's members right after its create line
      if (name !== current) { members = sets.get(name); counted = hits.get(name); left = grants.get(name); current = name; }
      const s3 = line.indexOf(' ', s2 + 1);
      const member = line.slice(s2 + 1, s3 < 0 ? line.length : s3);
      const cidr = cidrOf(member);
      members?.push(cidr);
      if (left) left.set(member, s3 > 0 && line.startsWith(' timeout ', s3) ? Number(line.slice(s3 + 9, (line.indexOf(' ', s3 + 9) + 1 || line.length + 1) - 1)) : 0);
      if (counted && s3 > 0) {
        const p = line.indexOf(' packets ', s3);
        const b = line.indexOf(' bytes ', s3);
        if (p >= 0 && b >= 0) counted.set(cidr, { packets: Number(line.slice(p + 9, line.indexOf(' ', p + 9))), bytes: Number(line.slice(b + 7, (line.indexOf(' ', b + 7) + 1 || line.length + 1) - 1)) });
      }
    }
  }
  for (const m of sets.values()) m.sort();
  return { sets, lacking, hits, timeouts, grants, sides };
}

/** Members of every tm3 set in the kernel, as canonical CIDRs. */
export async function readTm3Sets(): Promise<Map<string, string[]>> {
  return (await readSetState()).sets;
}

/** Load each set into a side set and swap it in: the live set changes in one step. */
export function swapScript(sets: SetPlan[], existing: Set<string>, hits: Map<string, Map<string, Hits>> = new Map()): string {
  const lines: string[] = [];
  for (const s of sets) {
    fillLines(lines, s, existing, hits);
    if (!s.timed) lines.push(`swap ${s.name}${SIDE} ${s.name}`, `destroy ${s.name}${SIDE}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The first half of swapScript, for every set: side sets made and filled, nothing live replaced. */
export function fillScript(sets: SetPlan[], existing: Set<string>, hits: Map<string, Map<string, Hits>> = new Map()): string {
  const lines: string[] = [];
  for (const s of sets) fillLines(lines, s, existing, hits);
  return `${lines.join('\n')}\n`;
}

function fillLines(lines: string[], s: SetPlan, existing: Set<string>, hits: Map<string, Map<string, Hits>>): void {
  if (!existing.has(s.name)) lines.push(`create ${s.name} ${setOptions(s)}`);
  if (s.timed) return; // live grants and bans are never replaced
  lines.push(`create ${s.name}${SIDE} ${sideOptions(s)}`);
  // a member that stays keeps its count, so a swap does not make a used entry look unused
  const had = hits.get(s.name);
  for (const m of s.members) {
    const h = had?.get(m);
    lines.push(h ? `add ${s.name}${SIDE} ${m} packets ${h.packets} bytes ${h.bytes}` : `add ${s.name}${SIDE} ${m}`);
  }
}

/**
 * The side set's options: the set's own, with a hash table sized for the members it is about to
 * be filled with. From the default 1024 buckets the kernel doubles its table again and again while
 * `ipset restore` loads 20,000 members, rehashing each time (about a third of the load). Every
 * comparison of sets (the failsafe's, tm3's own) leaves hashsize out: the kernel resizes anyway.
 */
export function sideOptions(s: SetPlan): string {
  let size = 1024;
  while (size < s.members.length && size < 1 << 20) size *= 2;
  return setOptions(s).replace(/\bhashsize 1024\b/, `hashsize ${size}`);
}

/** Returns the counters it read and carried over (undefined when there was nothing to swap). */
export async function swapSets(sets: SetPlan[], existing: Set<string>): Promise<Map<string, Map<string, Hits>> | undefined> {
  if (sets.length === 0) return undefined;
  const hits = await clearSideSets(sets);
  await run('ipset', ['restore'], { input: swapScript(sets, existing, hits) });
  return hits;
}

/** Side sets left by a killed run, destroyed; then the counters a swap carries over. */
async function clearSideSets(sets: SetPlan[]): Promise<Map<string, Map<string, Hits>>> {
  // Side sets left by a killed run would make "create" fail; they hold nothing live. One listing
  // instead of a destroy per set: at ~5 ms a process, two dozen of them were a tenth of a restart.
  const names = new Set((await run('ipset', ['list', '-n'])).stdout.split('\n'));
  for (const s of sets) if (names.has(`${s.name}${SIDE}`)) await run('ipset', ['-q', 'destroy', `${s.name}${SIDE}`], { allowFail: true });
  return (await readSetState()).hits;
}

/**
 * swapSets in two halves, for a caller with other children to wait for (restart tests both rule
 * files meanwhile): fillSideSets makes and fills the side sets, which nothing matches, so no live
 * set changes; swapInSideSets then swaps them all in, or dropSideSets throws them away. A killed
 * run leaves side sets only, which the next swap clears. Returns the counters carried over.
 */
export async function fillSideSets(sets: SetPlan[], read: SetState): Promise<Map<string, Map<string, Hits>> | undefined> {
  if (sets.length === 0) return undefined;
  // side sets only, from the caller's fresh snapshot: no live set is created or changed here
  const leftovers = sets.filter((s) => read.sides.has(`${s.name}${SIDE}`));
  const lines = leftovers.map((s) => `destroy ${s.name}${SIDE}`);
  await run('ipset', ['restore'], { input: `${lines.join('\n')}${lines.length ? '\n' : ''}${fillScript(sets, new Set(sets.map((s) => s.name)), read.hits)}` });
  return read.hits;
}

export async function swapInSideSets(sets: SetPlan[]): Promise<void> {
  const lines = sets.filter((s) => !s.timed).flatMap((s) => [`swap ${s.name}${SIDE} ${s.name}`, `destroy ${s.name}${SIDE}`]);
  if (lines.length) await run('ipset', ['restore'], { input: `${lines.join('\n')}\n` });
}

export async function dropSideSets(sets: SetPlan[]): Promise<void> {
  // only those there: after a swap (a restart that failed later, at the failsafe) there are none,
  // and a process per set would only be told so
  const names = new Set((await run('ipset', ['list', '-n'], { allowFail: true })).stdout.split('\n'));
  for (const s of sets) if (!s.timed && names.has(`${s.name}${SIDE}`)) await run('ipset', ['-q', 'destroy', `${s.name}${SIDE}`], { allowFail: true });
}

/**
 * The hit counters the kernel holds right after swapSets(swapped), without another `ipset save`
 * (a second read of every member at 20,000 entries): a swapped set holds its planned members
 * with the counts swapScript carried over (0 for a new member), and every other counted set of
 * the plan is as `read` found it (`read`: the counters swapSets read, or the caller's own read
 * when nothing was swapped). Timed sets and the union have no counters.
 */
export function countsAfterSwap(plan: SetPlan[], swapped: SetPlan[], read: Map<string, Map<string, Hits>>): Map<string, Map<string, Hits>> {
  const names = new Set(swapped.map((s) => s.name));
  const out = new Map<string, Map<string, Hits>>();
  for (const s of plan) {
    if (s.timed || s.union) continue;
    if (!names.has(s.name)) {
      const had = read.get(s.name);
      if (had) out.set(s.name, had);
      continue;
    }
    const had = read.get(s.name);
    const now = new Map<string, Hits>();
    for (const m of s.members) now.set(m, had?.get(m) ?? { packets: 0, bytes: 0 });
    out.set(s.name, now);
  }
  return out;
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

/**
 * Timed sets whose default timeout in the kernel is not the plan's ([knock] grant_seconds was
 * changed): each is rebuilt with the new default and swapped in, every live member carried over
 * with the time it has left (never more than the new default). Left as they were, the failsafe,
 * which compares whole create lines, would find them "not the set tm3 made" after the ADMIN
 * SECTION, fail the restart and put empty sets in their place: every live grant gone for a
 * routine config edit. A grant added between the save and the swap is lost: it fails closed
 * (the traveller knocks again).
 */
export async function retimeSets(plan: SetPlan[], kernel: Map<string, number>): Promise<string[]> {
  const stale = plan.filter((s) => s.timed && kernel.has(s.name) && kernel.get(s.name) !== (s.timeout ?? 0));
  if (stale.length === 0) return [];
  const lines: string[] = [];
  for (const s of stale) {
    const side = `${s.name}${SIDE}`;
    await run('ipset', ['-q', 'destroy', side], { allowFail: true }); // a killed run's leftover
    const { stdout } = await run('ipset', ['save', s.name]);
    lines.push(`create ${side} ${setOptions(s)}`);
    const cap = s.timeout ?? 0;
    for (const m of stdout.matchAll(/^add \S+ (\S+) timeout (\d+)/gm)) {
      const left = Number(m[2]);
      if (left > 0) lines.push(`add ${side} ${m[1]} timeout ${cap > 0 ? Math.min(left, cap) : left}`);
    }
    lines.push(`swap ${side} ${s.name}`, `destroy ${side}`);
  }
  await run('ipset', ['restore'], { input: `${lines.join('\n')}\n` });
  return stale.map((s) => s.name);
}

/** A knock grant: the kernel removes it after `seconds`; a repeated knock renews it. */
export async function addTimed(set: string, address: string, seconds: number): Promise<void> {
  await run('ipset', ['add', set, address, 'timeout', String(seconds), '-exist']);
}

/**
 * Members for a timed set, each added only when absent or holding less time than given: `ipset
 * add -exist` would also shorten a member that holds more (the grant union's, see GRANTED).
 */
export async function raiseTimed(set: string, members: Map<string, number>): Promise<void> {
  const { stdout, exitCode } = await run('ipset', ['save', set], { allowFail: true });
  if (exitCode !== 0) return;
  const have = new Map<string, number>();
  for (const m of stdout.matchAll(/^add \S+ (\S+)(?: timeout (\d+))?/gm)) have.set(m[1], Number(m[2] ?? 0));
  const lines = [...members].filter(([a, t]) => t > 0 && (have.get(a) ?? -1) < t).map(([a, t]) => `add ${set} ${a} timeout ${t}`);
  if (lines.length) await run('ipset', ['restore', '-exist'], { input: `${lines.join('\n')}\n` });
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
