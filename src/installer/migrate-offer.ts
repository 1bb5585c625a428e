import type { Paths } from '../store/paths.js';
import type { Output } from '../cli/output.js';
import { installedTm3 } from './tm3-run.js';
import { askYesNo } from './ask.js';

/**
 * A box with a legacy firewall (Travelin' Man 3, XiVO, Wazo): say what `tm3 migrate` would carry
 * over and, unless the admin declines, run it before the first render replaces those files.
 */
export async function offerMigration(paths: Paths, ask: boolean, out: Output): Promise<boolean> {
  const plan = JSON.parse((await installedTm3(paths, ['migrate', '--dry-run', '--json'])).stdout) as { entries: unknown[]; report: string[] };
  if (plan.report.length === 0) return false;
  out.info(`a legacy firewall is here: tm3 migrate would carry over ${plan.entries.length} whitelist entries:`);
  for (const line of plan.report) out.info(`  ${line}`);
  if (ask && !(await askYesNo('Migrate it now? Every entry and the knock code are kept; tm3 migrate --rollback undoes it.'))) {
    out.warn('not migrated: the legacy rules files are backed up and replaced; run tm3 migrate later to bring the entries over from the backup');
    return false;
  }
  const r = await installedTm3(paths, ['migrate']);
  out.info(r.stdout.trim());
  return true;
}
