import { asteriskLogsTwice } from '../store/asterisk-logger.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { planFiles, type PlannedFile } from '../plan/files.js';
import { extractAdminBody, ADMIN_BEGIN, ADMIN_END } from '../plan/admin-section.js';
import type { SetPlan } from '../plan/sets.js';
import { readText, writeAtomic, type FileUndo } from '../store/files.js';
import type { Ctx } from '../cli/context.js';
import { tm3Command } from '../tm3-command.js';
import { hasSystemd } from '../apply/system.js';
import type { KnockInputs } from '../plan/knock-files.js';
import { loadState, type State } from './state.js';

// The files an admin may have edited by hand; a replaced one is kept under /var/backups/tm3.
const BACKED_UP = (ctx: Ctx) => new Set([ctx.paths.rulesV4, ctx.paths.rulesV6, ctx.paths.custom]);

export const backupStamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

export interface RenderResult { written: string[]; backups: string[]; files: PlannedFile[] }

/** Write every generated file that differs from the plan; back up hand-edited ones first. */
export async function renderFiles(ctx: Ctx, sets: SetPlan[], dryRun: boolean, knock?: KnockInputs, opts: { adminBody?: string; undo?: FileUndo; state?: State } = {}): Promise<RenderResult> {
  const { adminBody, undo } = opts;
  const banExempt = ctx.config.fail2ban.enabled ? await (await import('./fail2ban.js')).banExempt(ctx, opts.state ?? (await loadState(ctx))) : [];
  // tm3 migrate hands over the admin section it carried over from a legacy script
  const existingCustom = adminBody !== undefined ? `${ADMIN_BEGIN}\n${adminBody}${ADMIN_END}` : await readText(ctx.paths.custom);
  if (existingCustom !== undefined && extractAdminBody(existingCustom) === undefined) {
    ctx.out.warn(`${ctx.paths.custom} has no tm3 admin section; it is backed up and replaced (tm3 migrate carries legacy rules over)`);
  }
  const files = planFiles(ctx.config, ctx.paths, sets, { existingCustom, tm3: tm3Command(ctx.paths.root), knock, systemd: hasSystemd(ctx.paths.root), banExempt, asteriskTwins: asteriskLogsTwice(ctx.paths, ctx.config.fail2ban.asteriskLog) });
  const written: string[] = [];
  const backups: string[] = [];
  const stamp = backupStamp();
  for (const f of files) {
    const old = await readText(f.path);
    if (old === f.text) continue;
    written.push(f.path);
    if (dryRun) continue;
    await undo?.remember(f.path);
    if (old !== undefined && BACKED_UP(ctx).has(f.path)) {
      const rel = path.relative(ctx.paths.root, f.path);
      const dest = path.join(ctx.paths.backups, stamp, rel);
      await writeAtomic(dest, old, 0o600);
      backups.push(dest);
    }
    await writeAtomic(f.path, f.text, f.mode);
    await fs.chmod(f.path, f.mode);
  }
  return { written, backups, files };
}
