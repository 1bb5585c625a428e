import { rulesText } from '../plan/files.js';
import { setOptions, type SetPlan } from '../plan/sets.js';
import { tm3Part, handRules } from '../plan/rule-diff.js';
import { canonicalRules, printRules } from '../apply/iptables.js';
import { readText } from '../store/files.js';
import type { Ctx } from '../cli/context.js';
import type { RenderResult } from './render-files.js';
import { describeSetChanges } from './sync-sets.js';
import { fileDiff } from './diff.js';

export interface RestartDiff {
  /** unified diffs of the boot files (rules.v4, rules.v6, ipsets, iptables-custom) that would change */
  files: string[];
  /** per family: tm3's part of the kernel's rules now against after the restart ('' = the same) */
  rules: { family: 4 | 6; diff: string }[];
  /** set members the restart would add (+) or remove (-), against the kernel now */
  sets: string[];
  /** per family: kernel rules neither tm3, Fail2Ban nor the ADMIN SECTION makes again */
  gone: { family: 4 | 6; rules: string[] }[];
}

/**
 * What `tm3 restart` would change, as text an admin can read: the files against the disk, and
 * the rules and sets against the kernel (where a hand-made change shows up). The planned rules
 * are printed by the kernel itself, in a scratch namespace, so both sides are spelt alike.
 */
export async function restartDiff(ctx: Ctx, sets: SetPlan[], rendered: RenderResult, kernel: Map<string, string[]>, adminBody: string): Promise<RestartDiff> {
  // knockd.conf holds the knock sequence: only the firewall's own files are shown
  const shown = new Set([ctx.paths.rulesV4, ctx.paths.rulesV6, ctx.paths.ipsets, ctx.paths.custom]);
  const files: string[] = [];
  for (const f of rendered.files.filter((x) => shown.has(x.path) && rendered.written.includes(x.path))) {
    files.push(await fileDiff(ctx.paths.inServer(f.path), await readText(f.path), f.text));
  }
  const creates = sets.map((s) => `create ${s.name} ${setOptions(s)}`);
  const rules: RestartDiff['rules'] = [];
  const gone: RestartDiff['gone'] = [];
  for (const family of [4, 6] as const) {
    const bin = family === 4 ? 'iptables' : 'ip6tables';
    const printed = await printRules(family);
    gone.push({ family, rules: handRules(printed, adminBody) });
    const planned = await canonicalRules(family, rulesText(ctx.config, family), creates);
    if (planned === undefined) {
      rules.push({ family, diff: `${bin}: tm3's ruleset could not be loaded in a scratch namespace to compare (is unshare installed?)` });
      continue;
    }
    const [now, after] = [tm3Part(printed), tm3Part(planned)];
    rules.push({ family, diff: now === after ? '' : (await fileDiff(`${bin} -S`, now, after)).replace(/^would change [^\n]*\n/, '') });
  }
  // timed sets (knock grants, bans) keep their live members across a restart: not a change
  const steady = sets.filter((s) => !s.timed);
  const setLines = describeSetChanges(steady.map((s) => ({ ...s, members: kernel.get(s.name) ?? [] })), steady);
  for (const s of steady) if (!kernel.has(s.name)) setLines.push(`+ set ${s.name} (created)`);
  const planned = new Set(sets.map((s) => s.name));
  for (const name of kernel.keys()) if (!planned.has(name)) setLines.push(`- set ${name} (destroyed)`);
  return { files, rules, sets: setLines, gone };
}
