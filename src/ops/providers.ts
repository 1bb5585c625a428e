// tm3 provider add/remove: which entries to write and delete, decided before anything changes.
import { InputError } from '../model/errors.js';
import { nearest } from '../model/suggest.js';
import { printable } from '../model/address.js';
import { parseServiceList, type Catalog } from '../model/services.js';
import { providerEntries, providerOfEntry, sameEntry, type Provider } from '../model/provider.js';
import type { Entry } from '../model/entry.js';

/** A provider's entries in the store: source=provider and named <id>-<n>. */
export const entriesOf = (entries: Entry[], id: string) => entries.filter((e) => e.source === 'provider' && providerOfEntry(e.name) === id);

/** The catalog provider for each name, or one error with the nearest known id. */
export function pickProviders(names: string[], providers: Provider[], extra: string[] = []): Provider[] {
  const ids = providers.map((p) => p.id);
  return [...new Set(names.map((n) => String(n).trim().toLowerCase()))].map((name) => {
    const p = providers.find((x) => x.id === name);
    if (p) return p;
    const near = nearest(name, [...ids, ...extra]);
    throw new InputError(`unknown provider '${printable(name)}'`, near ? `did you mean ${near}? ('tm3 provider list' shows them all)` : `'tm3 provider list' shows the catalog: ${ids.join(', ')}`);
  });
}

/** The provider's services, checked against this box's [services] (an admin may have removed iax). */
export function providerServices(p: Provider, catalog: Catalog): string[] {
  try {
    return parseServiceList(p.services.join(','), catalog);
  } catch (err) {
    throw new InputError(`provider ${p.id} needs services ${p.services.join(', ')}, and ${(err as Error).message}`, `define it in [services] of tm3.conf, or correct ${p.id} in /etc/tm3/providers.json`);
  }
}

export interface ProviderPlan { adds: Entry[]; removes: string[]; already: string[] }

/**
 * What `provider add` changes: a provider whose entries already match is left alone (idempotent);
 * one whose catalog changed is rewritten whole, so no stale address of it stays trusted.
 */
export function planProviderAdd(chosen: Provider[], entries: Entry[], catalog: Catalog, opts: { allowWide?: boolean; now?: string } = {}): ProviderPlan {
  const plan: ProviderPlan = { adds: [], removes: [], already: [] };
  const now = opts.now ?? new Date().toISOString();
  for (const p of chosen) {
    if (p.wide && !opts.allowWide) throw new InputError(`provider ${p.id} publishes wide ranges (more than a /16 of the internet, or a range broader than /8)`, `check them in ${p.file}, then pass --allow-wide if you mean to trust them`);
    const want = providerEntries(p, providerServices(p, catalog), now);
    const have = entriesOf(entries, p.id);
    for (const w of want) {
      const clash = entries.find((e) => e.name === w.name && e.source !== 'provider');
      if (clash) throw new InputError(`entry ${w.name} exists and is not provider ${p.id}'s (source ${clash.source})`, `rename or delete it first (tm3 del-acct ${w.name}), then add the provider again`);
    }
    if (have.length === want.length && want.every((w) => have.some((h) => sameEntry(h, w)))) {
      plan.already.push(p.id);
      continue;
    }
    plan.removes.push(...have.map((e) => e.name));
    plan.adds.push(...want);
  }
  return plan;
}

export type Trust = 'yes' | 'partly' | 'outdated' | 'no';

/** Is the provider trusted now: every catalog address (yes), some (partly), others than the catalog's (outdated), none (no). */
export function trustOf(p: Provider, entries: Entry[]): Trust {
  const have = entriesOf(entries, p.id);
  if (have.length === 0) return 'no';
  const targets = new Set(have.map((e) => e.address?.cidr ?? e.host));
  const wanted = p.signalling.map((s) => s.address?.cidr ?? s.host);
  const present = wanted.filter((t) => targets.has(t)).length;
  if (present === wanted.length) return have.length === wanted.length ? 'yes' : 'outdated';
  return present === 0 ? 'outdated' : 'partly';
}
