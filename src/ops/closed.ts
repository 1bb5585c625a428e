import fs from 'node:fs';
import { runFailsafe } from '../apply/system.js';
import { Tm3Error } from '../model/errors.js';
import type { Ctx } from '../cli/context.js';

const SUSPECT = /ADMIN SECTION line (\d+) of (\S+): (.*)/;

/** What to do about an open or incomplete firewall: the suspect ADMIN SECTION line when there is one. */
export function closingFix(output: string, where: (file: string) => string, custom?: string): string {
  const m = SUSPECT.exec(output);
  // right after iptables-custom ran, the ADMIN SECTION did it even when no single line looks guilty
  if (!m && custom) return `a line of the ADMIN SECTION of ${custom} did it (the lines above say what the kernel shows); remove it, then run tm3 restart`;
  if (!m) return 'tm3 restart rebuilds tm3\'s ruleset';
  return `remove or correct ADMIN SECTION line ${m[1]} of ${where(m[2])} (${m[3].trim().slice(0, 60)}), then run tm3 restart`;
}

/**
 * The promise after anything ran iptables rules we did not write: tm3-failsafe checks both
 * families and, if the box was left open, puts tm3's ruleset back. Then this fails loudly.
 */
export async function ensureClosed(ctx: Ctx, afterCustom = false): Promise<void> {
  const r = await runFailsafe(ctx.paths.failsafe, 'verify');
  if (r.ok) return;
  throw new Tm3Error('the firewall was left open or incomplete; tm3 closed it again with its own ruleset', closingFix(r.output, (f) => ctx.paths.inServer(f), afterCustom ? ctx.paths.inServer(ctx.paths.custom) : undefined), 1, r.output);
}

/** Doctor's view: the same check, changing nothing. Empty when closed. */
export async function closingProblems(ctx: Ctx): Promise<string[]> {
  if (!fs.existsSync(ctx.paths.failsafe)) return []; // doctor reports the missing file itself
  const r = await runFailsafe(ctx.paths.failsafe, 'check');
  if (r.ok) return [];
  const lines = r.output.split('\n').filter((l) => l && !SUSPECT.test(l));
  const fix = closingFix(r.output, (f) => ctx.paths.inServer(f));
  return lines.map((l) => `${l} (${fix})`);
}
