import { changedSets, planSets, type SetPlan } from '../plan/sets.js';
import { ipsetsText } from '../plan/files.js';
import { readSetState, swapSets } from '../apply/ipset.js';
import { writeIfChanged } from '../store/files.js';
import type { Ctx } from '../cli/context.js';
import type { State } from './state.js';

/** What a set change would do, as "+ 198.51.100.7/32 tm3-sip-4" lines. */
export function describeSetChanges(before: SetPlan[], after: SetPlan[]): string[] {
  const old = new Map(before.map((s) => [s.name, new Set(s.members)]));
  const lines: string[] = [];
  // the union set (tm3-known-4/6) only repeats the members of the others
  for (const s of after.filter((x) => !x.union)) {
    const was = old.get(s.name) ?? new Set<string>();
    const now = new Set(s.members);
    for (const m of s.members) if (!was.has(m)) lines.push(`+ ${m} in ${s.name}`);
    for (const m of was) if (!now.has(m)) lines.push(`- ${m} from ${s.name}`);
  }
  return lines;
}

/**
 * Bring the saved sets file and the kernel to the plan. Only sets that differ from the kernel
 * are swapped, so an unchanged refresh writes nothing. Returns the swapped set names.
 */
export async function syncSets(ctx: Ctx, state: State): Promise<string[]> {
  const sets = planSets(ctx.config, state.entries, state.cache);
  await writeIfChanged(ctx.paths.ipsets, ipsetsText(sets), 0o640);
  const { sets: kernel, lacking } = await readSetState();
  const changed = changedSets(sets, kernel, lacking);
  await swapSets(changed, new Set(kernel.keys()));
  return changed.map((s) => s.name);
}
