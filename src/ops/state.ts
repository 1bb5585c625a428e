import { readEntries } from '../store/entries.js';
import { readCache, type Cache } from '../store/cache.js';
import type { Entry } from '../model/entry.js';
import type { Ctx } from '../cli/context.js';

export interface State { entries: Entry[]; cache: Cache }

/** Entries and the last-good cache, with every skipped file reported as a warning. */
export async function loadState(ctx: Ctx): Promise<State> {
  const { entries, warnings } = await readEntries(ctx.paths, ctx.config.catalog);
  const { cache, warning } = await readCache(ctx.paths);
  for (const w of warnings) ctx.out.warn(w);
  if (warning) ctx.out.warn(warning);
  return { entries, cache };
}
