// tm3 migrate: read the legacy firewall, plan (pure, src/migrate), back up, write, render.
import fs from 'node:fs/promises';
import path from 'node:path';
import { decode } from 'ini';
import { emptyFindings, type Findings } from '../migrate/findings.js';
import { readRulesFile, isTm3File } from '../migrate/rules-file.js';
import { readCustomScript } from '../migrate/custom-script.js';
import { readLegacyEntry, isTm3Entry } from '../migrate/legacy-files.js';
import { createHash } from 'node:crypto';
import { readLegacyKnockd, stockKnockd, readKnockFaq } from '../migrate/knockd.js';
import { conffileMd5 } from '../apply/dpkg.js';
import { readJailLocal } from '../migrate/jail.js';
import { planMigration, dropinText, type MigrationPlan } from '../migrate/plan.js';
import { formatEntry } from '../model/entry.js';
import { Tm3Error, InputError } from '../model/errors.js';
import { extractAdminBody } from '../plan/admin-section.js';
import { planSets } from '../plan/sets.js';
import { loadConfig } from '../store/config.js';
import { readCache, cacheText, type Cache } from '../store/cache.js';
import { readEntries, readEntryFile, checkStoreDir } from '../store/entries.js';
import { indexFile } from '../store/entry-index.js';
import { readText, writeAtomic, removeFile, copyAtomic, fsError } from '../store/files.js';
import type { Paths } from '../store/paths.js';
import { readKnockState, writeKnockState } from '../store/knock-state.js';
import { withLock } from '../store/lock.js';
import type { Ctx } from '../cli/context.js';
import { syslog } from '../apply/system.js';
import { backupStamp, renderFiles } from './render-files.js';
import { knockInputs } from './knock.js';
import { fileDiff } from './diff.js';
import { disableLines, LEGACY_TOOLS } from '../migrate/old-tools.js';
import { wrapperFile } from '../plan/files.js';
import { tm3Command } from '../tm3-command.js';

export const DROPIN = '/etc/tm3/tm3.conf.d/50-migrated.conf';
export const JAIL_DROPIN = '/etc/fail2ban/jail.d/tm3-migrated.local';
const MANIFEST = 'migrate.json';
const CRONTABS = ['/etc/crontab', '/var/spool/cron/crontabs/root'];
const RC_LOCAL = ['/etc/rc.local', '/etc/rc.d/rc.local'];
export const RHEL_REFUSAL = "this box loads its firewall at boot from /etc/sysconfig/iptables (RHEL's iptables service, no /etc/debian_version), which would load the legacy rules beside tm3's; tm3 runs on Debian with netfilter-persistent";

interface Manifest { stamp: string; replaced: string[]; created: string[] }
export interface MigrateResult { plan: MigrationPlan; changed: string[]; backupDir?: string; diffs: string[]; rhelBoot?: boolean }

/** Read every legacy source under the root into findings (tm3's own files are skipped). */
async function readLegacy(ctx: Ctx): Promise<{ findings: Findings; adminBody?: string; rhelBoot: boolean; oneLine: Map<string, string> }> {
  const p = ctx.paths;
  const findings = emptyFindings();
  checkStoreDir(p);
  const rules: [string, 4 | 6][] = [['/etc/iptables/rules.v4', 4], ['/etc/iptables/rules.v6', 6], ['/etc/sysconfig/iptables', 4], ['/etc/sysconfig/ip6tables', 6]];
  const debian = (await readText(p.at('/etc/debian_version')).catch(() => undefined)) !== undefined;
  let rhelBoot = false;
  for (const [file, family] of rules) {
    const text = await readText(p.at(file));
    // RHEL's iptables service would load this file at boot beside tm3's rules
    if (file === '/etc/sysconfig/iptables' && text !== undefined && !debian) rhelBoot = true;
    if (text === undefined || isTm3File(text)) continue;
    // nothing loads a RHEL rules file at boot on Debian: what it says was never in force
    if (debian && file.startsWith('/etc/sysconfig/')) { findings.notes.push({ where: file, text: 'not read: on Debian nothing loads it at boot (the firewall came from /etc/iptables)', level: 'note' }); continue; }
    readRulesFile(text, family, file, findings);
  }
  const custom = await readText(p.custom);
  const adminBody = extractAdminBody(custom);
  if (custom !== undefined && adminBody === undefined) readCustomScript(custom, p.inServer(p.custom), findings, { keepOtherLines: true });
  const ipchecker = await readText(path.join(p.storeDir, 'ipchecker'));
  if (ipchecker !== undefined && !isTm3File(ipchecker)) readCustomScript(ipchecker, p.inServer(path.join(p.storeDir, 'ipchecker')), findings, { keepOtherLines: false });
  const oneLine = new Map<string, string>();
  for (const f of await fs.readdir(p.storeDir).catch(() => [] as string[])) {
    if (!f.endsWith('.iptables')) continue;
    // as the entry store reads them: no link, FIFO or device followed, root's, small
    const read = readEntryFile(path.join(p.storeDir, f));
    if (read instanceof Error) {
      findings.notes.push({ where: p.inServer(path.join(p.storeDir, f)), text: `not read (${read.message}): not migrated`, level: 'unknown' });
      continue;
    }
    const text = read ?? '';
    if (isTm3Entry(text)) continue;
    oneLine.set(f.slice(0, -'.iptables'.length), text);
    readLegacyEntry(f.slice(0, -'.iptables'.length), text, p.inServer(path.join(p.storeDir, f)), findings);
  }
  return { findings, adminBody, rhelBoot, oneLine };
}

/** Everything a migration would write: path -> text (direct files), plus the rendered ones. */
async function prepare(ctx: Ctx) {
  const p = ctx.paths;
  const legacy = await readLegacy(ctx);
  const knockdText = await readText(p.knockdConf);
  const jailText = await readText(p.at('/etc/fail2ban/jail.local'));
  const faqText = await readText(path.join(p.storeDir, 'knock.FAQ')).catch(() => undefined);
  const dropinPath = p.at(DROPIN);
  const dropinNow = await readText(dropinPath);
  // a migration reads the store as it is, and leaves no cache behind (its dry run writes nothing)
  const { entries: existing } = await readEntries(p, ctx.config.catalog, { index: false });
  const plan = planMigration({
    findings: legacy.findings,
    config: ctx.config,
    existing: existing.filter((e) => !e.legacy),
    dropin: dropinNow ? (decode(dropinNow) as MigrationPlan['dropin']) : {},
    adminBody: legacy.adminBody,
    knock: knockdText === undefined || isTm3File(knockdText) ? undefined
      : stockKnockd(knockdText, createHash('md5').update(knockdText).digest('hex'), await conffileMd5('knockd', '/etc/knockd.conf'))
        ? { stock: true, notes: [] } : readLegacyKnockd(knockdText),
    jails: jailText !== undefined ? readJailLocal(jailText) : undefined,
    faqServer: faqText !== undefined && !isTm3File(faqText) ? readKnockFaq(faqText) : undefined,
    now: new Date().toISOString(),
  });
  const direct: Record<string, { text: string; mode: number }> = {};
  await disableOldTools(ctx, plan.report, direct);
  // A legacy NAME.iptables that did not become entry NAME would still be read by tm3's store as
  // an entry of its own ('all'): it goes aside, where nothing reads it.
  const remove: string[] = [];
  const migrated = new Set(plan.entries.map((e) => e.name));
  for (const [name, text] of legacy.oneLine) {
    if (migrated.has(name)) continue;
    const file = p.entryFile(name);
    direct[`${file}.not-migrated`] = { text, mode: 0o600 };
    remove.push(file);
    plan.report.push(`set aside: ${p.inServer(file)} is now ${p.inServer(file)}.not-migrated, so tm3 does not read it as an entry (see above; tm3 migrate --rollback puts it back)`);
  }
  // tm3 writes only what Debian's netfilter-persistent loads: files yes, --apply no.
  const rhelBoot = legacy.rhelBoot;
  if (rhelBoot) plan.report.push(`refused: ${RHEL_REFUSAL}; the migrated files are written for review, and tm3 migrate --apply refuses`);

  for (const e of plan.entries) direct[p.entryFile(e.name)] = { text: formatEntry(e), mode: 0o600 };
  const dropin = Object.keys(plan.dropin).length ? dropinText(plan.dropin) : undefined;
  if (dropin !== undefined && dropin !== dropinNow) direct[dropinPath] = { text: dropin, mode: 0o644 };
  if (plan.disableJails.length) {
    direct[p.at(JAIL_DROPIN)] = { text: `# Written by tm3 migrate: tm3's jails in jail.d/tm3.local replace these legacy jails.\n# Delete this file to switch them on again.\n${plan.disableJails.map((j) => `[${j}]\nenabled = false\n`).join('\n')}`, mode: 0o644 };
  }
  // The migrated config and entries, as if written, drive the render plan.
  const config = await loadConfig(p, dropin !== undefined ? { [dropinPath]: dropin } : {});
  const next: Ctx = { ...ctx, config };
  const { cache } = await readCache(p);
  const seeded: Cache = { ...cache };
  for (const [host, nets] of Object.entries(plan.seeds)) {
    if (!seeded[host]) seeded[host] = { v4: nets.filter((n) => n.family === 4).map((n) => n.cidr), v6: nets.filter((n) => n.family === 6).map((n) => n.cidr), error: 'seeded from the legacy last-ip by tm3 migrate' };
  }
  if (Object.keys(seeded).length !== Object.keys(cache).length) direct[p.cache] = { text: cacheText(seeded), mode: 0o600 };
  const knockBefore = await readKnockState(p);
  const knockState = { ...knockBefore, sequence: plan.knockSequence ?? knockBefore.sequence, permanent: knockBefore.permanent || plan.knockPermanent };
  const knock = await knockInputs(next, true, knockState); // fills in a missing sequence, writes nothing
  const knockChanged = knockState.sequence?.join() !== knockBefore.sequence?.join() || knockState.permanent !== knockBefore.permanent;
  // legacy one-line files are either migrated under their name or set aside above
  const entries = [...existing.filter((e) => !e.legacy && !plan.entries.some((n) => n.name === e.name)), ...plan.entries];
  for (const [f, { text }] of Object.entries(direct)) if ((await readText(f)) === text) delete direct[f];
  return { plan, rhelBoot, direct, remove, next, knockState, knockChanged, sets: planSets(config, entries, seeded), knock, state: { entries, cache: seeded } };
}

/**
 * The old tools must stop rewriting the firewall: their cron and rc.local lines are commented
 * out, and their copies outside /root (where tm3's wrappers go) become tm3 wrappers too.
 */
async function disableOldTools(ctx: Ctx, report: string[], direct: Record<string, { text: string; mode: number }>): Promise<void> {
  const p = ctx.paths;
  const cronD = (await fs.readdir(p.at('/etc/cron.d')).catch(() => [] as string[])).filter((f) => /^[A-Za-z0-9_-]+$/.test(f)).map((f) => `/etc/cron.d/${f}`);
  const targets: [string, string][] = [
    ...[...CRONTABS, ...cronD].map((f): [string, string] => [f, 'tm3-refresh.timer refreshes the names every 10 minutes']),
    ...RC_LOCAL.map((f): [string, string] => [f, 'tm3-firewall.service loads the firewall at boot']),
  ];
  for (const [file, why] of targets) {
    const at = p.at(file);
    // a link (CentOS's /etc/rc.local -> rc.d/rc.local) stays a link: its target is on the list
    if ((await fs.lstat(at).catch(() => undefined))?.isSymbolicLink()) continue;
    const text = await readText(at).catch(() => undefined);
    const done = text === undefined ? undefined : disableLines(text, file, why);
    if (!done) continue;
    direct[at] = { text: done.text, mode: (await fs.stat(at)).mode & 0o7777 };
    report.push(...done.report);
  }
  for (const name of LEGACY_TOOLS) {
    // the render below puts tm3's wrapper in their place
    const text = await readText(path.join(p.storeDir, name)).catch(() => undefined);
    if (text !== undefined && !isTm3File(text)) report.push(`disabled: ${p.inServer(p.storeDir)}/${name}, the original's own command, is now a wrapper around tm3 (tm3 migrate --rollback puts it back)`);
  }
  for (const dir of ['/usr/local/sbin', '/usr/local/bin']) {
    for (const name of LEGACY_TOOLS) {
      const at = p.at(`${dir}/${name}`);
      const text = await readText(at).catch(() => undefined);
      if (text === undefined || isTm3File(text)) continue;
      const w = wrapperFile(p, tm3Command(p.root), name, at);
      direct[at] = { text: w.text, mode: 0o755 };
      report.push(`disabled: ${dir}/${name}, the original's own command, is now a wrapper around tm3 like ${p.inServer(p.storeDir)}/${name} (tm3 migrate --rollback puts it back)`);
    }
  }
}

/** Plan, and unless dryRun back up every file it touches and write them. */
export async function migrate(ctx: Ctx, dryRun: boolean, opts: { apply?: boolean } = {}): Promise<MigrateResult> {
  return withLock(ctx.paths, async () => {
    const pre = await prepare(ctx);
    if (opts.apply && pre.rhelBoot) throw new InputError(RHEL_REFUSAL, 'run tm3 migrate without --apply to write the files for review, and migrate on the Debian box that replaces this one; nothing was changed');
    // No legacy source at all (a fresh box): nothing to migrate, and nothing to render either.
    if (pre.plan.report.length === 0) return { plan: pre.plan, changed: [], diffs: [], rhelBoot: pre.rhelBoot };
    const rendered = await renderFiles(pre.next, pre.sets, true, pre.knock, { adminBody: pre.plan.adminBody, state: pre.state });
    const renderedText = Object.fromEntries(rendered.files.map((f) => [f.path, f.text]));
    const changed = [...new Set([...Object.keys(pre.direct), ...pre.remove, ...rendered.written, ...(pre.knockChanged ? [ctx.paths.knockState] : [])])];
    if (dryRun) {
      const diffs: string[] = [];
      for (const f of changed) {
        const planned = pre.direct[f]?.text ?? renderedText[f];
        if (pre.remove.includes(f)) diffs.push(`would move ${ctx.paths.inServer(f)} aside to ${ctx.paths.inServer(f)}.not-migrated`);
        else if (planned !== undefined) diffs.push(await fileDiff(ctx.paths.inServer(f), await readText(f), planned));
        else diffs.push(`would change ${ctx.paths.inServer(f)}`);
      }
      return { plan: pre.plan, changed, diffs, rhelBoot: pre.rhelBoot };
    }
    if (changed.length === 0) return { plan: pre.plan, changed, diffs: [] };

    const stamp = backupStamp();
    const backupDir = path.join(ctx.paths.backups, `${stamp}-migrate`);
    const manifest: Manifest = { stamp, replaced: [], created: [] };
    for (const f of changed) {
      const rel = path.relative(ctx.paths.root, f);
      if (await exists(f)) {
        await copyAtomic(f, path.join(backupDir, rel)); // byte for byte, whatever the encoding
        manifest.replaced.push(rel);
      } else manifest.created.push(rel);
    }
    await writeAtomic(path.join(backupDir, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`, 0o600);
    await writeAtomic(path.join(backupDir, 'report.txt'), `${pre.plan.report.join('\n')}\n`, 0o600);

    for (const [f, { text, mode }] of Object.entries(pre.direct)) await writeAtomic(f, text, mode);
    for (const f of pre.remove) await removeFile(f);
    if (pre.knockChanged) await writeKnockState(ctx.paths, pre.knockState);
    // exactly the rendered texts that were diffed and backed up above, without rendering twice
    for (const f of rendered.files.filter((x) => rendered.written.includes(x.path))) {
      await writeAtomic(f.path, f.text, f.mode);
      await fs.chmod(f.path, f.mode);
    }
    await syslog(`tm3 migrate: ${pre.plan.entries.length} entries from the legacy firewall; backups in ${ctx.paths.inServer(backupDir)}`);
    return { plan: pre.plan, changed, backupDir, diffs: [], rhelBoot: pre.rhelBoot };
  }, { dryRun });
}

const exists = (f: string) => fs.access(f).then(() => true, () => false);

/** The backup folder of the last migration not rolled back yet, if any. */
export async function lastMigration(paths: Paths): Promise<string | undefined> {
  const dirs = (await fs.readdir(paths.backups).catch(() => [] as string[])).filter((d) => d.endsWith('-migrate')).sort().reverse();
  for (const d of dirs) if (await exists(path.join(paths.backups, d, MANIFEST))) return path.join(paths.backups, d);
  return undefined;
}

/** Put back every file of the last migration byte for byte, and remove the ones it created. */
export async function rollback(ctx: Ctx, dryRun: boolean): Promise<{ backupDir: string; restored: string[]; removed: string[] }> {
  return withLock(ctx.paths, async () => {
    const dir = await lastMigration(ctx.paths);
    if (!dir) throw new Tm3Error('there is no migration to roll back', 'nothing to do: tm3 migrate has not run here (or was rolled back already)', 2);
    let m: Manifest;
    try {
      m = JSON.parse((await readText(path.join(dir, MANIFEST)))!) as Manifest;
      if (!Array.isArray(m.replaced) || !Array.isArray(m.created)) throw new Error('no file lists');
    } catch (err) {
      throw new Tm3Error(`${path.join(dir, MANIFEST)} is damaged (${(err as Error).message})`, `restore the files by hand from ${dir}`);
    }
    if (!dryRun) {
      // every backup must be there before anything is put back: no half rollback
      for (const rel of m.replaced) if (!(await exists(path.join(dir, rel)))) throw new Tm3Error(`the backup of /${rel} is missing from ${dir}`, 'restore the files by hand; nothing was changed');
      for (const rel of m.replaced) await copyAtomic(path.join(dir, rel), path.join(ctx.paths.root, rel));
      for (const rel of m.created) await removeFile(path.join(ctx.paths.root, rel)).catch((err) => { throw fsError(rel, err, 'remove'); });
      // the entry index is a cache of the migrated store: the box goes back to how it was without one
      await removeFile(indexFile(ctx.paths)).catch(() => undefined);
      // A rolled-back migration is not rolled back twice; the next --rollback takes an older one.
      await fs.rename(path.join(dir, MANIFEST), path.join(dir, 'migrate.rolled-back.json')).catch((err) => { throw fsError(dir, err, 'mark the rollback in'); });
      await syslog(`tm3 migrate --rollback: restored ${m.replaced.length} files from ${ctx.paths.inServer(dir)}`);
    }
    return { backupDir: dir, restored: m.replaced, removed: m.created };
  }, { dryRun });
}
