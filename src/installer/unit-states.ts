import fs from 'node:fs/promises';
import path from 'node:path';
import { systemctl } from '../apply/system.js';
import type { Paths } from '../store/paths.js';

/** The units an install enables beyond its own: their state before it, so --uninstall can put it back. */
export const PEER_UNITS = ['netfilter-persistent.service', 'knockd.service', 'fail2ban.service', 'fwknop-server.service'] as const;
const STATES = ['enabled', 'disabled', 'masked'] as const;

export interface UnitsBefore {
  /** systemctl is-enabled, per unit (only enabled, disabled or masked are ever acted on) */
  states: Record<string, string>;
  /** their SysV links (/etc/rcN.d/S01knockd -> ../init.d/knockd): systemctl enable/disable rewrites them */
  rcLinks: string[];
}

const sysvName = (unit: string) => unit.replace(/\.service$/, '');
const RUNLEVELS = ['0', '1', '2', '3', '4', '5', '6', 'S'];

async function rcLinks(paths: Paths): Promise<string[]> {
  const names = new Set(PEER_UNITS.map(sysvName));
  const links: string[] = [];
  for (const d of RUNLEVELS.map((r) => paths.at(`/etc/rc${r}.d`))) {
    for (const f of await fs.readdir(d).catch(() => [] as string[])) {
      if (!/^[SK]\d\d/.test(f) || !names.has(f.slice(3))) continue;
      const target = await fs.readlink(path.join(d, f)).catch(() => undefined);
      if (target !== undefined) links.push(`${path.join(d, f)} -> ${target}`);
    }
  }
  return links.sort();
}

export async function readUnitStates(paths: Paths): Promise<UnitsBefore> {
  const states: Record<string, string> = {};
  for (const u of PEER_UNITS) states[u] = (await systemctl(['is-enabled', '--', u], true)).stdout.trim() || 'not-found';
  return { states, rcLinks: await rcLinks(paths) };
}

/**
 * The states to record on an upgrade from a tm3 that kept none. Versions since the first boot
 * fixes enable knockd themselves, so what systemctl says now is not what the box had before tm3:
 * take Debian's own default for knockd (the package leaves it disabled) and the rest as they are.
 */
export async function statesForUpgrade(paths: Paths): Promise<UnitsBefore> {
  const now = await readUnitStates(paths);
  if (now.states['knockd.service'] === 'enabled') now.states['knockd.service'] = 'disabled';
  return now;
}

/**
 * A record made by a tm3 that did not manage every peer unit of this one (fwknop-server came with
 * personal access): the units it lacks, as they are now, before this run touches them. Without
 * this, uninstall would leave Debian's enabled fwknop-server disabled, and drop its SysV links.
 */
export async function completeUnitsBefore(paths: Paths, recorded: UnitsBefore): Promise<UnitsBefore | undefined> {
  const missing = PEER_UNITS.filter((u) => !(u in recorded.states));
  if (missing.length === 0) return undefined;
  const now = await readUnitStates(paths);
  const names = new Set(missing.map(sysvName));
  return {
    states: { ...recorded.states, ...Object.fromEntries(missing.map((u) => [u, now.states[u]])) },
    rcLinks: [...recorded.rcLinks, ...now.rcLinks.filter((l) => names.has(path.basename(l.split(' -> ')[0]).slice(3)))].sort(),
  };
}

/**
 * What an install record says, checked: it is a file on disk, and its values become systemctl
 * arguments and symlinks. Only tm3's peer units, only the three states, only SysV links of those
 * units to their own init script; anything else is left out (and named, for a warning).
 */
export function checkUnitsBefore(paths: Paths, raw: unknown): { ok: UnitsBefore; refused: string[] } {
  const ok: UnitsBefore = { states: {}, rcLinks: [] };
  const refused: string[] = [];
  const r = (raw ?? {}) as { states?: unknown; rcLinks?: unknown };
  const states = typeof r.states === 'object' && r.states !== null ? r.states as Record<string, unknown> : {};
  for (const [unit, state] of Object.entries(states)) {
    if ((PEER_UNITS as readonly string[]).includes(unit) && (STATES as readonly unknown[]).includes(state)) ok.states[unit] = state as string;
    else refused.push(`${unit}=${String(state)}`);
  }
  const link = new RegExp(`^${paths.at('/etc').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/rc[0-6S]\\.d/[SK]\\d\\d(knockd|fail2ban|netfilter-persistent|fwknop-server) -> \\.\\./init\\.d/\\1$`);
  for (const l of Array.isArray(r.rcLinks) ? r.rcLinks : []) {
    if (typeof l === 'string' && link.test(l)) ok.rcLinks.push(l);
    else refused.push(String(l));
  }
  return { ok, refused };
}

/** Back to what was recorded: Debian leaves knockd disabled, and a box without tm3 should not knock. */
export async function restoreUnitStates(paths: Paths, before: UnitsBefore): Promise<void> {
  const now = await readUnitStates(paths);
  for (const [unit, state] of Object.entries(before.states)) {
    const verb = ({ enabled: 'enable', disabled: 'disable', masked: 'mask' } as Record<string, string>)[state];
    if (verb && now.states[unit] !== state) await systemctl([verb, '--quiet', '--', unit], true);
  }
  // and the SysV links as they were: `systemctl disable` turns a package's S01 links into K01 ones
  const after = await rcLinks(paths);
  for (const l of after.filter((x) => !before.rcLinks.includes(x))) await fs.rm(l.split(' -> ')[0], { force: true });
  for (const l of before.rcLinks.filter((x) => !after.includes(x))) {
    const [file, target] = l.split(' -> ');
    await fs.rm(file, { force: true });
    await fs.symlink(target, file);
  }
}
