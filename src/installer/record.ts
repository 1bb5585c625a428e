import { readText, writeAtomic } from '../store/files.js';
import type { Paths } from '../store/paths.js';
import type { UnitsBefore } from './unit-states.js';

/** What an install did, so a re-run can upgrade in place and --uninstall can undo it. */
export interface InstallRecord {
  version: string;
  state: 'installing' | 'installed';
  installedAt: string;
  /** where the files it replaced were saved */
  backupDir: string;
  /** every file and directory it placed (host paths under the root) */
  placed: string[];
  /** the kernel rules before the first apply, for --uninstall */
  kernelSnapshot?: boolean;
  /** knockd, fail2ban and netfilter-persistent as they were enabled before the first apply */
  unitsBefore?: UnitsBefore;
}

const file = (paths: Paths) => paths.at('/var/lib/tm3/install.json');

export async function readInstallRecord(paths: Paths): Promise<InstallRecord | undefined> {
  const text = await readText(file(paths));
  if (!text) return undefined;
  try { return JSON.parse(text) as InstallRecord; } catch { return undefined; }
}

export async function writeInstallRecord(paths: Paths, rec: InstallRecord): Promise<void> {
  await writeAtomic(file(paths), `${JSON.stringify(rec, null, 2)}\n`, 0o600);
}
