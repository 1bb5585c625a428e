// Port scopes of legacy rules, as ranges, and how they map onto the service catalog.
import { createHash } from 'node:crypto';
import { ALL, describePorts, type Catalog, type PortRange, type Proto } from '../model/services.js';

/** 'all' (every protocol and port) or a list of ranges. */
export type Scope = typeof ALL | PortRange[];

/** Sorted, merged ranges per protocol: the canonical form every comparison uses. */
export function normalize(ranges: PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  for (const proto of ['tcp', 'udp'] as Proto[]) {
    const sorted = ranges.filter((r) => r.proto === proto).sort((a, b) => a.from - b.from);
    for (const r of sorted) {
      const last = out[out.length - 1];
      if (last && last.proto === proto && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
      else out.push({ ...r });
    }
  }
  return out;
}

export function union(a: Scope, b: Scope): Scope {
  return a === ALL || b === ALL ? ALL : normalize([...a, ...b]);
}

/** a minus b, both normalized. */
export function subtract(a: PortRange[], b: PortRange[]): PortRange[] {
  let rest = a.map((r) => ({ ...r }));
  for (const cut of b) {
    rest = rest.flatMap((r) => {
      if (r.proto !== cut.proto || cut.to < r.from || cut.from > r.to) return [r];
      const parts: PortRange[] = [];
      if (cut.from > r.from) parts.push({ proto: r.proto, from: r.from, to: cut.from - 1 });
      if (cut.to < r.to) parts.push({ proto: r.proto, from: cut.to + 1, to: r.to });
      return parts;
    });
  }
  return rest;
}

const within = (inner: PortRange[], outer: PortRange[]) => subtract(normalize(inner), outer).length === 0;
const size = (rs: PortRange[]) => rs.reduce((n, r) => n + r.to - r.from + 1, 0);

/** A stable catalog name for a port list that no catalog service fits. */
export function customServiceName(ranges: PortRange[]): string {
  const text = describePorts(ranges);
  if (ranges.length === 1) {
    const r = ranges[0];
    const name = `${r.proto}-${r.from}${r.from === r.to ? '' : `-${r.to}`}`;
    if (name.length <= 16) return name;
  }
  return `ports-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

/**
 * The catalog services that together give exactly `scope`, never more. What no service fits
 * becomes one custom service, returned for the migrated config drop-in.
 */
export function servicesFor(scope: Scope, catalog: Catalog): { services: string[]; custom?: { name: string; ranges: PortRange[] } } {
  if (scope === ALL) return { services: [ALL] };
  const want = normalize(scope);
  // Largest first, so 'sip' is chosen over 'sip-udp' plus 'sip-tcp'.
  const fitting = [...catalog].filter(([, rs]) => within(rs, want)).sort((a, b) => size(b[1]) - size(a[1]));
  const chosen: string[] = [];
  let covered: PortRange[] = [];
  for (const [name, rs] of fitting) {
    if (within(rs, covered)) continue;
    chosen.push(name);
    covered = normalize([...covered, ...rs]);
  }
  let rest = subtract(want, covered);
  if (rest.length === 0) return { services: [...catalog.keys()].filter((k) => chosen.includes(k)) };
  // A remainder more ragged than the whole ("-p udp" minus sip, iax, tftp) reads worse than one service.
  if (rest.length > want.length) { chosen.length = 0; rest = want; }
  const exact = [...catalog].find(([, rs]) => describePorts(normalize(rs)) === describePorts(rest));
  if (exact) return { services: [...catalog.keys()].filter((k) => chosen.includes(k) || k === exact[0]) };
  const custom = { name: customServiceName(rest), ranges: rest };
  return { services: [...[...catalog.keys()].filter((k) => chosen.includes(k)), custom.name], custom };
}
