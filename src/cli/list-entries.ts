import { loadState } from '../ops/state.js';
import type { Ctx } from './context.js';
import type { Entry } from '../model/entry.js';
import type { Cache } from '../store/cache.js';
import type { Filter } from '../ops/filter.js';

/** The entries a `tm3 list [ADDRESS]` shows, with the last-good cache (for --stale). */
export async function selectEntries(ctx: Ctx, filter: Filter | undefined): Promise<{ entries: Entry[]; cache: Cache }> {
  const { entries: all, cache } = await loadState(ctx);
  if (!filter) return { entries: all, cache };
  const { entryMatches } = await import('../ops/filter.js');
  const { entryAddresses } = await import('../plan/sets.js');
  return { entries: all.filter((e) => entryMatches(filter, e.host, entryAddresses(e, cache))), cache };
}

/** `tm3 list [ADDRESS] [--json]`: the entries as a table, or as JSON. */
export function printEntries(ctx: Ctx, entries: Entry[], filter: Filter | undefined, json: boolean): void {
  const rows = entries
    .map((e) => ({ name: e.name, target: e.address?.cidr ?? e.host!, kind: e.host ? 'fqdn' : 'address', services: e.services, source: e.source, added: e.added, ...(e.family ? { family: e.family } : {}), ...(e.person ? { person: e.person } : {}) }));
  if (json) return ctx.out.json(rows);
  if (rows.length === 0) return ctx.out.line(filter ? `no entry holds or covers ${filter.label}${filter.net ? ` (tm3 why ${filter.net.address} says what the kernel does with it)` : ''}` : 'no whitelist entries (add one with tm3 add-ip NAME ADDRESS)');
  const fam = rows.some((r) => r.family);
  table(ctx, ['NAME', 'TARGET', 'SERVICES', 'SOURCE', ...(fam ? ['FAMILY'] : [])], rows.map((r) => [r.name, r.target, r.services.join(','), r.person ? `${r.source} (${r.person})` : r.source, ...(fam ? [r.family ? `IPv${r.family} only` : 'both'] : [])]));
}

export function table(ctx: Ctx, head: string[], rows: string[][]) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) ctx.out.line(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}
