import type { Entry } from './entry.js';

/** "3d", "5h", "12m": how long ago an ISO time was; '?' when the entry has none (legacy files). */
export function age(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!iso || Number.isNaN(t)) return '?';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** What an entry lets in, in one line: "203.0.113.5 for sip" or "home.example.org (198.51.100.7) for all". */
export function entryValue(e: Entry, addresses?: { v4: string[]; v6: string[] }): string {
  // a name's addresses only when known: a kept copy (tm3 restore --list) has none to show
  const current = addresses ? [...addresses.v4, ...addresses.v6] : undefined;
  const target = e.address ? e.address.cidr : `${e.host}${current ? ` (${current.length ? current.join(', ') : 'unresolved'})` : ''}`;
  return `${target} for ${e.services.join(',')}`;
}

/** The value plus where it came from and how old it is, for pickers and "it replaced" lines. */
export function entrySummary(e: Entry, addresses?: { v4: string[]; v6: string[] }, now = Date.now()): string {
  return `${entryValue(e, addresses)}, source ${e.source}, added ${e.added ? `${age(e.added, now)} ago` : 'at an unknown time'}`;
}
