import fs from 'node:fs/promises';
import path from 'node:path';
import { systemctl } from '../apply/system.js';
import type { Paths } from '../store/paths.js';

/** The units an install enables beyond its own: their state before it, so --uninstall can put it back. */
export const PEER_UNITS = ['netfilter-persistent.service', 'knockd.service', 'fail2ban.service'];

export interface UnitsBefore {
  /** systemctl is-enabled, per unit */
  states: Record<string, string>;
  /** their SysV links (/etc/rcN.d/S01knockd -> ../init.d/knockd): systemctl enable/disable rewrites them */
  rcLinks: string[];
}

const sysvName = (unit: string) => unit.replace(/\.service$/, '');

async function rcLinks(paths: Paths): Promise<string[]> {
  const names = new Set(PEER_UNITS.map(sysvName));
  const links: string[] = [];
  for (const d of ['0', '1', '2', '3', '4', '5', '6', 'S'].map((r) => paths.at(`/etc/rc${r}.d`))) {
    for (const f of await fs.readdir(d).catch(() => [] as string[])) {
      if (!names.has(f.replace(/^[SK]\d\d/, '')) || !/^[SK]\d\d/.test(f)) continue;
      const target = await fs.readlink(path.join(d, f)).catch(() => undefined);
      if (target !== undefined) links.push(`${path.join(d, f)} -> ${target}`);
    }
  }
  return links.sort();
}

export async function readUnitStates(paths: Paths): Promise<UnitsBefore> {
  const states: Record<string, string> = {};
  for (const u of PEER_UNITS) states[u] = (await systemctl(['is-enabled', u], true)).stdout.trim() || 'not-found';
  return { states, rcLinks: await rcLinks(paths) };
}

/** Back to what was recorded: Debian leaves knockd disabled, and a box without tm3 should not knock. */
export async function restoreUnitStates(paths: Paths, before: UnitsBefore): Promise<void> {
  const now = await readUnitStates(paths);
  for (const [unit, state] of Object.entries(before.states)) {
    const verb = ({ enabled: 'enable', disabled: 'disable', masked: 'mask' } as Record<string, string>)[state];
    if (verb && now.states[unit] !== state) await systemctl([verb, '--quiet', unit], true);
  }
  // and the SysV links byte for byte: `systemctl disable` turns a package's S01 links into K01 ones
  const after = await rcLinks(paths);
  for (const l of after.filter((x) => !before.rcLinks.includes(x))) await fs.rm(l.split(' -> ')[0], { force: true });
  for (const l of before.rcLinks.filter((x) => !after.includes(x))) {
    const [file, target] = l.split(' -> ');
    await fs.rm(file, { force: true });
    await fs.symlink(target, file);
  }
}
