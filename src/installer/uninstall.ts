import fs from 'node:fs/promises';
import fssync from 'node:fs';
import path from 'node:path';
import { InputError } from '../model/errors.js';
import { Paths } from '../store/paths.js';
import { readText, copyAtomic } from '../store/files.js';
import { lastMigration, rollback } from '../ops/migrate.js';
import { makeContext } from '../cli/context.js';
import { hasSystemd, systemctl, syslog } from '../apply/system.js';
import { restoreRules } from '../apply/iptables.js';
import { destroySets, readTm3Sets } from '../apply/ipset.js';
import { stopKnockd } from '../apply/knockd.js';
import { stopFail2ban } from '../apply/fail2ban.js';
import type { Output } from '../cli/output.js';
import { readInstallRecord } from './record.js';
import { restoreUnitStates, checkUnitsBefore } from './unit-states.js';
import { printable } from '../model/address.js';
import { writeAtomic } from '../store/files.js';
import { DEFAULT_ADMIN_BODY, extractAdminBody } from '../plan/admin-section.js';
import { backupStamp } from '../ops/render-files.js';
import { inputPolicy } from '../apply/iptables.js';
import { knockdRunning } from '../apply/knockd.js';
import { fail2banRunning } from '../apply/fail2ban.js';
import { indexFile } from '../store/entry-index.js';

/** What the box is left with, said plainly: the firewall in force and at boot, knockd and Fail2Ban. */
async function leftWith(paths: Paths, apply: boolean): Promise<string[]> {
  const lines: string[] = [];
  if (apply) {
    const policies = [`IPv4 ${await inputPolicy(4).catch(() => 'unknown')}`, `IPv6 ${await inputPolicy(6).catch(() => 'unknown')}`];
    const open = policies.some((p) => / ACCEPT$/.test(p));
    lines.push(`the kernel now has the rules found before tm3 (INPUT policy ${policies.join(', ')})${open ? ': unless those rules drop it, anyone reaches every service' : ''}`);
  } else {
    lines.push('the kernel was not touched (a staged root): the firewall tm3 loaded, if any, stays until a reboot or your own rules replace it');
  }
  const boot = [paths.rulesV4, paths.rulesV6].filter((f) => fssync.existsSync(f)).map((f) => paths.inServer(f));
  lines.push(boot.length ? `at boot, netfilter-persistent loads ${boot.join(' and ')} (as before tm3)` : 'no /etc/iptables/rules.v4 or rules.v6: after a reboot this server has no firewall at all');
  const state = async (unit: string, running: Promise<boolean>) => {
    const enabled = hasSystemd(paths.root) ? ((await systemctl(['is-enabled', '--', unit], true)).stdout.trim() || 'not installed') : 'not started by tm3 any more';
    return `${unit.replace('.service', '')} ${await running.catch(() => false) ? 'running' : 'stopped'}, ${enabled}`;
  };
  lines.push(`${await state('knockd.service', knockdRunning(paths))}; ${await state('fail2ban.service', fail2banRunning(paths))}${apply ? "; tm3's knock grants and bans are gone with its sets" : ''}`);
  return lines;
}

/**
 * fwknop's two files as the install found them. tm3 writes them after the install too (tm3 user
 * add), so they are not among the placed files: Debian's stock ones the install replaced come
 * back from the backup byte for byte; ones tm3 made where there were none go; an admin's are
 * never tm3's (it refuses to write over them), so they stay.
 */
async function restoreFwknop(paths: Paths, backupDir: string, placed: string[]): Promise<string[]> {
  const said: string[] = [];
  for (const f of [paths.fwknopAccess, paths.fwknopdConf].filter((x) => !placed.includes(x))) {
    const original = path.join(backupDir, path.relative(paths.root, f));
    if (await fs.access(original).then(() => true, () => false)) {
      await copyAtomic(original, f);
      said.push(`fwknop: restored ${paths.inServer(f)} as the install found it`);
    } else if ((await readText(f))?.startsWith('# Written by tm3')) {
      await fs.rm(f, { force: true });
      said.push(`fwknop: removed ${paths.inServer(f)} (tm3 made it)`);
    }
  }
  return said;
}

/**
 * Put back every file the first install replaced (byte for byte), remove what tm3 placed,
 * and, when it applied, the kernel rules it found. Entries and /etc/tm3 stay for a reinstall.
 */
export async function uninstall(root: string, apply: boolean, out: Output, dryRun = false): Promise<number> {
  const paths = new Paths(root);
  const record = await readInstallRecord(paths);
  if (!record) throw new InputError(`tm3 is not installed under ${root}`, 'nothing to uninstall (no /var/lib/tm3/install.json)');
  // An install that migrated a legacy box: the legacy entry files and the rest come back first.
  const migration = await lastMigration(paths);
  const unitsBefore = record.unitsBefore ? checkUnitsBefore(paths, record.unitsBefore) : undefined;
  if (unitsBefore?.refused.length) out.warn(`install.json: leaving these as they are, not unit states tm3 records: ${unitsBefore.refused.map(printable).join(', ')}`);
  // The admin's own rules go with the script tm3 wrote (the original, if any, comes back in its
  // place): keep them where the backups are, under a folder this run makes.
  const adminBody = extractAdminBody(await readText(paths.custom));
  const keepAdmin = adminBody !== undefined && adminBody !== DEFAULT_ADMIN_BODY && adminBody.trim() !== '';
  const adminCopy = path.join(paths.backups, `${backupStamp()}-uninstall`, 'iptables-custom.ADMIN-SECTION');
  if (dryRun) {
    out.line('dry run: nothing will be changed.');
    if (keepAdmin) out.line(`would save the ADMIN SECTION of ${paths.inServer(paths.custom)} to ${paths.inServer(adminCopy)}`);
    else if (adminBody !== undefined) out.line("the ADMIN SECTION holds only tm3's example: nothing of yours to keep");
    if (migration) out.line(`would roll back the migration in ${paths.inServer(migration)} (tm3 migrate --rollback)`);
    for (const placed of record.placed) {
      const kept = await fs.access(path.join(record.backupDir, path.relative(root, placed))).then(() => true, () => false);
      out.line(`would ${kept ? 'restore' : 'remove '} ${paths.inServer(placed)}`);
    }
    const units = Object.entries(unitsBefore?.ok.states ?? {}).map(([u, st]) => `${u} ${st}`).join(', ');
    out.line(`would ${hasSystemd(root) ? `disable the tm3 units${units ? ` (and leave ${units}, as before the install)` : ''}, ` : ''}stop knockd and fail2ban${apply && record.kernelSnapshot ? ', and load the kernel rules found before the install' : ''}`);
    return 0;
  }
  if (keepAdmin) {
    await writeAtomic(adminCopy, `# The ADMIN SECTION of ${paths.inServer(paths.custom)}, saved by tm3-install --uninstall on ${new Date().toISOString()}.\n# To use these rules again, paste them between the ADMIN SECTION markers after a reinstall.\n${adminBody}`, 0o600);
  }
  if (hasSystemd(root)) await systemctl(['disable', '--now', 'tm3-firewall.service', 'tm3-refresh.timer'], true);
  await stopKnockd(paths).catch(() => undefined);
  await (await import('../apply/fwknopd.js')).stopFwknopd(paths, true).catch(() => undefined);
  await fs.rm(paths.logrotate, { force: true });
  await stopFail2ban(paths).catch(() => undefined);
  if (migration) {
    const r = await rollback(await makeContext({ root, quiet: true }), false);
    out.info(`migration rolled back: ${r.restored.length} legacy file(s) restored from ${paths.inServer(r.backupDir)}`);
  }
  let restored = 0;
  for (const placed of record.placed) {
    const original = path.join(record.backupDir, path.relative(root, placed));
    if (await fs.access(original).then(() => true, () => false)) {
      await copyAtomic(original, placed); // byte for byte, with the mode it had (iptables-custom stays executable)
      restored++;
    } else {
      await fs.rm(placed, { recursive: true, force: true });
    }
    // Python leaves a bytecode cache beside a module it imported (Fail2Ban's tm3-ban.py action):
    // it goes with the module, and so does the cache folder if nothing else is in it
    if (placed.endsWith('.py')) await removeBytecode(placed);
  }
  for (const said of await restoreFwknop(paths, record.backupDir, record.placed)) out.info(said);
  if (apply && record.kernelSnapshot) {
    for (const fam of [4, 6] as const) {
      const saved = await readText(paths.at(`/var/lib/tm3/kernel-before-install.v${fam}`));
      if (saved) await restoreRules(fam, saved);
    }
    await destroySets([...(await readTm3Sets()).keys()]);
  }
  // last, once the files are back: a knockd left enabled with Debian's stock knockd.conf restored
  // would open sshd to anyone knocking 7000,8000,9000
  if (hasSystemd(root) && unitsBefore) await restoreUnitStates(paths, unitsBefore.ok);
  await fs.rm(paths.at('/var/lib/tm3/install.json'), { force: true });
  await fs.rm(indexFile(paths), { force: true }); // a cache of the store, which stays: nothing to keep
  if (hasSystemd(root)) await systemctl(['daemon-reload'], true);
  out.ok(`tm3 uninstalled: ${restored} original file(s) restored, ${record.placed.length - restored} removed${apply ? ', kernel rules as before the install' : ''}`);
  // name only folders that are there: an install that replaced nothing made none
  const backups = await fs.access(record.backupDir).then(() => ` and the files it replaced, in ${paths.inServer(record.backupDir)}`, () => '');
  out.info(`kept: whitelist entries in the store directory, /etc/tm3${backups}`);
  if (keepAdmin) out.info(`kept: your ADMIN SECTION rules, in ${paths.inServer(adminCopy)} (they no longer run: paste them into your own firewall script, or back after a reinstall)`);
  for (const line of await leftWith(paths, apply)) out.warn(line);
  await syslog('tm3-install: uninstalled');
  return 0;
}

/** __pycache__/NAME.*.pyc of a removed module; the folder too when that leaves it empty. */
async function removeBytecode(module: string): Promise<void> {
  const cache = path.join(path.dirname(module), '__pycache__');
  const stem = `${path.basename(module, '.py')}.`;
  const names = await fs.readdir(cache).catch(() => [] as string[]);
  for (const n of names) if (n.startsWith(stem) && n.endsWith('.pyc')) await fs.rm(path.join(cache, n), { force: true });
  if (names.length && (await fs.readdir(cache).catch(() => ['?'])).length === 0) await fs.rmdir(cache).catch(() => undefined);
}
