import fs from 'node:fs/promises';
import semver from 'semver';
import { PrereqError } from '../model/errors.js';
import { run } from '../apply/run.js';
import type { Paths } from '../store/paths.js';
import { readInstallRecord } from './record.js';

export interface PreflightResult { os: string; platform: string; versions: Record<string, string> }

const MIN = { node: '18.19.0', iptables: '1.8.0', ipset: '6.30.0' };

async function exists(p: string) { try { await fs.access(p); return true; } catch { return false; } }

/** Wazo, XiVO or Incredible PBX, from files each of them leaves. */
export async function detectPlatform(paths: Paths): Promise<string> {
  if (await exists(paths.at('/usr/share/wazo')) || await exists(paths.at('/etc/wazo-confd'))) return 'Wazo';
  if (await exists(paths.at('/usr/share/xivo')) || await exists(paths.at('/etc/xivo'))) return 'XiVO';
  if (await exists(paths.at('/etc/pbx')) || await exists(paths.at('/root/COPYING'))) return 'Incredible PBX';
  return 'Debian (no PBX detected)';
}

async function toolVersion(cmd: string, args: string[]): Promise<string | undefined> {
  const r = await run(cmd, args, { allowFail: true }).catch(() => undefined);
  return r ? semver.coerce(`${r.stdout} ${r.stderr}`)?.version : undefined;
}

/** Root, a Debian-family OS, tools new enough, and no half-finished earlier install. */
export async function preflight(paths: Paths, opts: { repair?: boolean; packagesPending?: boolean }): Promise<PreflightResult> {
  if (process.getuid?.() !== 0) throw new PrereqError('tm3-install must run as root', 'run it as root (sudo -i), then again');
  const osRelease = await fs.readFile('/etc/os-release', 'utf8').catch(() => '');
  const id = /^ID=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, '') ?? '';
  const like = /^ID_LIKE=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, '') ?? '';
  if (id !== 'debian' && !like.split(' ').includes('debian')) {
    throw new PrereqError(`this is not a Debian-family system (ID=${id || 'unknown'})`, 'tm3 supports Debian and its derivatives (Wazo, XiVO, Incredible PBX)');
  }
  const record = await readInstallRecord(paths);
  if (record?.state === 'installing' && !opts.repair) {
    throw new PrereqError('an earlier tm3-install stopped half way', 'run tm3-install --repair to finish it');
  }
  const versions: Record<string, string> = { node: process.versions.node };
  if (!semver.gte(process.versions.node, MIN.node)) throw new PrereqError(`Node.js ${process.versions.node} is too old`, `install Node.js ${MIN.node} or newer (Debian 12's nodejs package is)`);
  if (!opts.packagesPending) {
    for (const [tool, args] of [['iptables', ['--version']], ['ipset', ['--version']]] as const) {
      const v = await toolVersion(tool, [...args]);
      if (!v) throw new PrereqError(`${tool} is not installed`, `apt-get install ${tool}, or run tm3-install without --no-packages`);
      if (!semver.gte(v, MIN[tool])) throw new PrereqError(`${tool} ${v} is too old`, `upgrade to ${tool} ${MIN[tool]} or newer`);
      versions[tool] = v;
    }
  }
  return { os: /^PRETTY_NAME=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, '') ?? id, platform: await detectPlatform(paths), versions };
}
