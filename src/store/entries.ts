import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { parseEntry, formatEntry, type Entry } from '../model/entry.js';
import { NAME_RE } from '../model/name.js';
import type { Catalog } from '../model/services.js';
import { Tm3Error } from '../model/errors.js';
import { readText, writeAtomic, removeFile } from './files.js';
import type { Paths } from './paths.js';

export interface StoreRead {
  entries: Entry[];
  /** one line each: a file that was skipped and why */
  warnings: string[];
}

/** Read every <name>.iptables; a garbage file is skipped with a warning so the others still apply. */
export async function readEntries(paths: Paths, catalog: Catalog): Promise<StoreRead> {
  let names: string[];
  try {
    names = (await fs.readdir(paths.storeDir)).filter((f) => f.endsWith('.iptables')).map((f) => f.slice(0, -'.iptables'.length)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], warnings: [] };
    throw err;
  }
  const entries: Entry[] = [];
  const warnings: string[] = [];
  // Synchronous reads: one syscall each and no thread-pool round trips, which at 20,000 files
  // is most of a restart. Nothing else runs meanwhile in a one-shot command.
  const texts = names.map((n): string | undefined | Error => {
    try {
      return readFileSync(paths.entryFile(n), 'utf8');
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : (e as Error);
    }
  });
  names.forEach((name, i) => {
    const text = texts[i];
    if (!NAME_RE.test(name)) {
      warnings.push(`skipped ${name}.iptables: the name is not allowed (rename it to letters, digits, . _ -)`);
      return;
    }
    if (text === undefined || text instanceof Error) {
      warnings.push(`skipped ${name}.iptables: ${text instanceof Error ? text.message : 'vanished while reading'}`);
      return;
    }
    try {
      entries.push(parseEntry(name, text, catalog));
    } catch (err) {
      const e = err as Tm3Error;
      warnings.push(`skipped ${name}.iptables: ${e.message}${e.fix ? ` (${e.fix})` : ''}`);
    }
  });
  return { entries, warnings };
}

export async function writeEntry(paths: Paths, entry: Entry): Promise<void> {
  await writeAtomic(paths.entryFile(entry.name), formatEntry(entry), 0o600);
}

export async function deleteEntry(paths: Paths, name: string): Promise<boolean> {
  return removeFile(paths.entryFile(name));
}

export async function entryExists(paths: Paths, name: string): Promise<boolean> {
  return (await readText(paths.entryFile(name))) !== undefined;
}
