import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import semver from 'semver';
import { InputError } from '../model/errors.js';
import { loadConfig, type Config } from '../store/config.js';
import ipaddr from 'ipaddr.js';
import { interfaceAddress } from '../apply/net.js';
import { setIniValue } from './conf-edit.js';
import { reachableFromOutside } from '../ops/knock.js';
import { Paths } from '../store/paths.js';
import { readText, writeAtomic, copyAtomic } from '../store/files.js';
import { render } from '../plan/render.js';
import { backupStamp } from '../ops/render-files.js';
import { hasSystemd, systemctl, syslog } from '../apply/system.js';
import { inputPolicy } from '../apply/iptables.js';
import { knockdRunning, stopKnockd } from '../apply/knockd.js';
import { fail2banRunning, stopFail2ban } from '../apply/fail2ban.js';
import { run } from '../apply/run.js';
import { VERSION } from '../version.js';
import type { Output } from '../cli/output.js';
import { preflight } from './preflight.js';
import { installPackages, packagesFor } from './packages.js';
import { detect, type Detected } from './detect.js';
import { placeRuntime, runtimeDir, tm3Bin } from './runtime.js';
import { firstEntries, placeEntries } from './entries.js';
import { installedTm3 } from './tm3-run.js';
import { readInstallRecord, writeInstallRecord, type InstallRecord } from './record.js';
import { readUnitStates, restoreUnitStates, statesForUpgrade, completeUnitsBefore, checkUnitsBefore } from './unit-states.js';
import { snapshotKernel, restoreKernel, confirmWithin } from './guard.js';
import { askDetected, askPublicAddress } from './ask.js';
import { fileDiff } from '../ops/diff.js';
import { JAIL_DROPIN } from '../ops/migrate.js';
import { offerMigration } from './migrate-offer.js';
import { providersFromFlag, askProviders, placeProviders } from './providers.js';

export interface InstallOptions {
  root: string;
  apply: boolean;
  dryRun: boolean;
  yes: boolean;
  packages: boolean;
  repair: boolean;
  adminIp?: string[];
  publicIp?: string | false;
  interface?: string;
  confirm: boolean;
  confirmSeconds: number;
  /** whom users ask when knocking fails (knock.FAQ) */
  adminContact?: string;
  /** offer tm3 migrate on a box with a legacy firewall */
  migrate: boolean;
  /** --providers: trusted VoIP provider ids, comma separated */
  providers?: string;
}

const UNITS = ['tm3-firewall.service', 'tm3-refresh.timer'];

/** preflight, packages, detection, placement, first apply: the whole of `npx tm3-install`. */
export async function install(o: InstallOptions, out: Output): Promise<number> {
  const base = new Paths(o.root);
  // a bad --providers is refused before anything is installed or written
  const flagProviders = await providersFromFlag(base, o.providers);
  const pre = await preflight(base, { repair: o.repair, packagesPending: o.packages && !o.dryRun });
  out.info(`tm3-install ${VERSION} on ${pre.os} (${pre.platform}); root ${o.root}${o.apply ? '' : ' (staged: no kernel or service changes)'}`);
  // Every value is checked (and, on a terminal, asked until it is right) before apt-get or any
  // write: a typo in a flag fails here with one line, a typo in an answer asks again.
  const confBefore = await readText(base.configFile);
  const existing = confBefore === undefined ? undefined : await loadConfig(base);
  const interactive = !o.yes && Boolean(process.stdin.isTTY);
  let det = await detect({
    adminIp: o.adminIp, adminContact: o.adminContact, ask: interactive,
    interface: o.interface ?? (existing?.knock.interface || undefined),
    // a re-run names the address tm3.conf already has; --public-ip replaces it
    publicIp: typeof o.publicIp === 'string' ? o.publicIp : existing?.server.publicAddress || o.publicIp,
  });
  if (!det.adminContact && existing?.server.adminContact) det.adminContact = existing.server.adminContact;
  const changed = new Set<string>([...(o.interface ? ['interface'] : []), ...(typeof o.publicIp === 'string' ? ['publicIp'] : []), ...(o.adminContact ? ['adminContact'] : [])]);
  if (interactive) {
    const asked = await askDetected(det);
    det = asked.detected;
    for (const c of asked.changed) changed.add(c);
  }
  if (!det.publicIp) {
    const why = await faqAddressProblem(det.interface);
    if (why && interactive) {
      det.publicIp = await askPublicAddress(`tm3: warning: ${why}.`);
      if (det.publicIp) changed.add('publicIp');
    }
    if (why && !det.publicIp) out.warn(`${why}; knock.FAQ will tell users to ask for the address (fix: tm3-install --public-address ADDR, or public_address in [server] of /etc/tm3/tm3.conf)`);
  }
  const providerIds = flagProviders ?? (interactive ? await askProviders(base, out) : []);
  showDetected(det, out);
  if (det.adminIps.length === 0) out.warn('no admin address (not over SSH and no --admin-ip): only the console and whitelisted addresses will reach this server');

  const previous = await readInstallRecord(base);
  if (previous && semver.valid(previous.version) && semver.gt(previous.version, VERSION)) {
    throw new InputError(`tm3 ${previous.version} is installed, newer than this ${VERSION}`, 'run the newer tm3-install, or --uninstall first');
  }
  const confExists = confBefore !== undefined;
  // first install: the template; a re-run: only what the admin asked to change, in place
  const confText = existing
    ? confUpdates(confBefore!, existing, det, changed)
    : { text: render('tm3.conf', { version: VERSION, interface: det.interface, publicIp: det.publicIp, adminContact: det.adminContact }), said: [] };

  if (o.packages && !o.dryRun) {
    await installPackages((s) => out.info(s), packagesFor(existing?.spa.enabled ?? true));
    await preflight(base, { repair: true });
  }

  if (o.dryRun) {
    for (const line of confText.said) out.line(`would set in ${base.configFile}: ${line}`);
    return dryRunReport(base, det, confExists ? undefined : confText.text, out, providerIds);
  }

  const stamp = backupStamp();
  const backupDir = path.join(base.backups, stamp);
  const record: InstallRecord = {
    version: VERSION, state: 'installing', installedAt: new Date().toISOString(),
    backupDir: previous?.backupDir ?? backupDir, placed: previous?.placed ?? [], kernelSnapshot: previous?.kernelSnapshot,
    unitsBefore: previous?.unitsBefore ? checkUnitsBefore(base, previous.unitsBefore).ok : undefined,
  };
  await writeInstallRecord(base, record);

  if (!confExists || confText.text !== confBefore) await writeAtomic(base.configFile, confText.text, 0o644);
  for (const line of confText.said) out.info(`${paths0(base)}: ${line}`);
  const config = await loadConfig(base);
  overriddenWarnings(config, det, changed, out);
  const paths = base.withStoreDir(config.storeDir);
  const runtime = await placeRuntime(paths);
  const created = await placeEntries(paths, config, firstEntries(det.adminIps, det.serverAddresses), false);
  for (const name of created) out.info(`whitelisted ${name}`);
  for (const name of await placeProviders(paths, config, providerIds, false)) out.info(`whitelisted ${name} (provider)`);

  // Every file the render would replace is saved first; the first install's copies are the originals.
  const planned = JSON.parse((await installedTm3(paths, ['render', '--dry-run', '--json'])).stdout) as { files: string[]; written: string[] };
  for (const f of planned.written) {
    const text = await readText(f);
    if (text === undefined) continue;
    // byte for byte, with its mode: an unconfirmed apply puts back what this run found
    await copyAtomic(f, path.join(backupDir, path.relative(paths.root, f)));
    // and --uninstall what the box had before tm3: on an upgrade, a file the earlier tm3 never
    // replaced nor wrote (Debian's stock /etc/fwknop files, new to this version) is an original
    // too, kept with the first install's copies, where uninstall looks
    const original = path.join(record.backupDir, path.relative(paths.root, f));
    if (record.backupDir !== backupDir && !record.placed.includes(f) && !/^[^\n]*(generated|written) by tm3/i.test(text)
      && !(await fs.access(original).then(() => true, () => false))) await copyAtomic(f, original);
  }
  // After the backups, so that --uninstall restores the legacy files and not the migrated ones.
  const migrated = o.migrate && (await offerMigration(paths, !o.yes && Boolean(process.stdin.isTTY), out));
  await installedTm3(paths, ['render']);
  record.placed = [...new Set([...record.placed, ...runtime, ...planned.files, ...(migrated ? [paths.at(JAIL_DROPIN)] : [])])];

  if (o.apply) {
    if (!record.kernelSnapshot) {
      const first = await snapshotKernel();
      await writeAtomic(paths.at('/var/lib/tm3/kernel-before-install.v4'), first.v4, 0o600);
      await writeAtomic(paths.at('/var/lib/tm3/kernel-before-install.v6'), first.v6, 0o600);
      record.kernelSnapshot = true;
      await writeInstallRecord(paths, record);
    }
    if (!record.unitsBefore && hasSystemd(paths.root)) {
      record.unitsBefore = previous ? await statesForUpgrade(paths) : await readUnitStates(paths);
      // on disk before anything is enabled: after a kill -9 the next run must not record tm3's own doing
      await writeInstallRecord(paths, record);
    } else if (record.unitsBefore && hasSystemd(paths.root)) {
      const completed = await completeUnitsBefore(paths, record.unitsBefore);
      if (completed) {
        record.unitsBefore = completed;
        await writeInstallRecord(paths, record);
      }
    }
    // an unconfirmed apply goes back to what this run found (on an upgrade: the previous tm3's)
    const unitsThisRun = hasSystemd(paths.root) ? await readUnitStates(paths) : undefined;
    const before = await snapshotKernel();
    // knockd and Fail2Ban as this run found them: an unconfirmed apply stops what it started
    const daemonsBefore = await daemonsRunning(paths);
    // a failing ADMIN SECTION line is the admin's to fix, named, not a reason to roll back the install
    const restarted = await installedTm3(paths, ['restart', '--admin-failures', 'warn']);
    for (const l of restarted.stderr.split('\n').filter((x) => x.includes('ADMIN SECTION line'))) process.stderr.write(`${l}\n`);
    if (hasSystemd(paths.root)) {
      await systemctl(['daemon-reload']);
      await systemctl(['enable', 'netfilter-persistent.service', ...UNITS]);
      await systemctl(['start', 'tm3-refresh.timer'], true);
      // PortKnocker and Fail2Ban must come back after a reboot too (Debian leaves knockd disabled);
      // tm3 restart above enabled and started them, this says so if a unit is missing
      const cfg = await loadConfig(paths);
      // fwknopd too once it serves someone (with nobody in tm3's list it is kept stopped and disabled)
      const serving = cfg.spa.enabled && cfg.knock.enabled && (await (await import('../store/people.js')).readPeople(paths, cfg.catalog)).people.length > 0;
      for (const unit of [...(cfg.knock.enabled ? ['knockd.service'] : []), ...(serving ? ['fwknop-server.service'] : []), ...(cfg.fail2ban.enabled ? ['fail2ban.service'] : [])]) {
        const r = await systemctl(['is-enabled', unit], true);
        if (r.stdout.trim() !== 'enabled') out.warn(`${unit} is ${r.stdout.trim() || 'not installed'}: it will not start at boot (systemctl enable ${unit})`);
      }
    }
    const overSsh = Boolean(process.env.SSH_CONNECTION || process.env.SSH_CLIENT);
    if (o.confirm && overSsh && process.stdin.isTTY && process.stdout.isTTY) {
      const kept = await confirmWithin(o.confirmSeconds, 'The firewall is up. Can you still open a NEW ssh session to this server?');
      if (!kept) {
        await restoreKernel(before);
        // A reboot, or a daemon that reads its config again, must not bring back what was not
        // confirmed: every file this run replaced goes back (the boot rules, and knockd's and
        // Fail2Ban's config: a legacy box's users keep their old knock). What it newly wrote for
        // a peer daemon goes; tm3's own new files stay, unused (its units are disabled below).
        for (const f of planned.written) {
          const saved = path.join(backupDir, path.relative(paths.root, f));
          if (await fs.access(saved).then(() => true, () => false)) await copyAtomic(saved, f);
          else if ([paths.rulesV4, paths.rulesV6, paths.knockdConf, paths.knockdDefault].includes(f) || f.startsWith(`${paths.f2b.conf}/`)) await fs.rm(f, { force: true });
        }
        if (hasSystemd(paths.root)) {
          // an upgrade keeps the previous tm3 running at boot, with the rules.v4 just put back
          if (previous?.state !== 'installed') await systemctl(['disable', ...UNITS], true);
          if (unitsThisRun) await restoreUnitStates(paths, unitsThisRun);
        }
        const stopped = await stopStarted(paths, daemonsBefore);
        if (stopped.length) out.info(`stopped again: ${stopped.join(', ')} (this run started them)`);
        // the ones that ran before run on their own config again
        const ranBefore = [...(daemonsBefore.knockd ? ['knockd.service'] : []), ...(daemonsBefore.fail2ban ? ['fail2ban.service'] : [])];
        if (hasSystemd(paths.root) && ranBefore.length) await systemctl(['try-restart', ...ranBefore], true);
        record.state = 'installed';
        await writeInstallRecord(paths, record);
        out.warn('not confirmed: the previous firewall rules are back, in the kernel and in /etc/iptables (as iptables-apply does); run tm3-install again when ready');
        await syslog('tm3-install: apply not confirmed, previous rules restored', 'warning');
        return 1;
      }
    }
    out.ok(`firewall applied: IPv4 INPUT ${await inputPolicy(4)}, IPv6 INPUT ${await inputPolicy(6)}`);
  }
  record.state = 'installed';
  record.version = VERSION;
  await writeInstallRecord(paths, record);
  const faq = await readText(paths.knockFaq);
  if (faq) out.info(`\n${paths.inServer(paths.knockFaq)} (give it only to trusted users):\n${faq}`);
  // only a folder this run (or the first install) made: nothing replaced, nothing saved, no folder
  const saved = await fs.access(record.backupDir).then(() => `; the files it replaced are in ${paths.inServer(record.backupDir)}`, () => '');
  out.ok(`tm3 ${VERSION} installed: ${paths.inServer(tm3Bin(paths))}, runtime in ${paths.inServer(runtimeDir(paths))}${saved}`);
  await syslog(`tm3-install ${VERSION}: installed${o.apply ? ' and applied' : ' (staged)'}`);
  return 0;
}

/** Is each peer daemon running (systemd's unit, or the one tm3 runs itself under the root)? */
async function daemonsRunning(paths: Paths): Promise<Record<'knockd' | 'fail2ban', boolean>> {
  return { knockd: await knockdRunning(paths), fail2ban: await fail2banRunning(paths).catch(() => false) };
}

/** Stop each daemon that runs now but did not before; returns their names. */
async function stopStarted(paths: Paths, before: Record<'knockd' | 'fail2ban', boolean>): Promise<string[]> {
  const now = await daemonsRunning(paths);
  const stopped: string[] = [];
  if (now.knockd && !before.knockd) { await stopKnockd(paths); stopped.push('knockd'); }
  if (now.fail2ban && !before.fail2ban) {
    if (hasSystemd(paths.root)) await systemctl(['stop', 'fail2ban.service'], true);
    else await stopFail2ban(paths);
    stopped.push('fail2ban');
  }
  return stopped;
}

const paths0 = (p: Paths) => p.inServer(p.configFile);

/** The keys a re-run was asked to change (a flag, or an answer that differs), set in tm3.conf in place. */
function confUpdates(text: string, cfg: Config, det: Detected, changed: Set<string>): { text: string; said: string[] } {
  const said: string[] = [];
  const set = (section: string, key: string, now: string, value: string | undefined) => {
    if (value === undefined || value === now) return;
    text = setIniValue(text, section, key, value);
    said.push(`[${section}] ${key} = ${value}${now ? ` (was ${now})` : ''}`);
  };
  if (changed.has('interface')) set('knock', 'interface', cfg.knock.interface, det.interface);
  if (changed.has('publicIp')) set('server', 'public_address', cfg.server.publicAddress, det.publicIp);
  if (changed.has('adminContact')) set('server', 'admin_contact', cfg.server.adminContact, det.adminContact);
  return { text, said };
}

/** A drop-in in tm3.conf.d that sets the same key wins over tm3.conf: say so rather than pretend. */
function overriddenWarnings(cfg: Config, det: Detected, changed: Set<string>, out: Output) {
  const check = (what: string, key: string, effective: string, wanted: string | undefined) => {
    if (changed.has(what) && wanted !== undefined && effective !== wanted) out.warn(`${key} stays ${effective || '(empty)'}: a file in /etc/tm3/tm3.conf.d sets it, and wins over tm3.conf (fix: edit that file)`);
  };
  check('interface', '[knock] interface', cfg.knock.interface, det.interface);
  check('publicIp', '[server] public_address', cfg.server.publicAddress, det.publicIp);
  check('adminContact', '[server] admin_contact', cfg.server.adminContact, det.adminContact);
}

/** Why knock.FAQ may name no address the internet reaches, or undefined when it does. */
export async function faqAddressProblem(iface: string): Promise<string | undefined> {
  const a = await interfaceAddress(iface);
  if (!a) return `no public address is known and ${iface} has no address, so knock.FAQ would name no server to knock on`;
  const range = ipaddr.parse(a).range();
  if (!reachableFromOutside(a)) return `no public address is known, so knock.FAQ would name ${a} (${iface}), a ${range} address that phones outside this network cannot reach (behind NAT, knock on the router's public address)`;
  return undefined;
}

function showDetected(d: Detected, out: Output) {
  out.info(`  admin address:    ${d.adminIps.join(', ') || '(none)'}`);
  out.info(`  interface:        ${d.interface}`);
  out.info(`  server addresses: ${d.serverAddresses.join(', ') || '(none)'}`);
  out.info(`  public address:   ${d.publicIp ?? '(none)'}`);
  out.info(`  admin contact:    ${d.adminContact ?? '(none)'}`);
}

/** --dry-run: the plan and the diffs; nothing is written. */
async function dryRunReport(paths: Paths, det: Detected, newConf: string | undefined, out: Output, providerIds: string[] = []): Promise<number> {
  out.line('dry run: nothing will be written.');
  if (newConf) out.line(`would write ${paths.configFile}:\n${newConf}`);
  out.line(`would install the runtime to ${runtimeDir(paths)} and ${tm3Bin(paths)}`);
  const config = await loadConfig(paths);
  const names = await placeEntries(paths.withStoreDir(config.storeDir), config, firstEntries(det.adminIps, det.serverAddresses), true);
  out.line(names.length ? `would whitelist: ${names.join(', ')}` : 'no new whitelist entries');
  const provided = await placeProviders(paths.withStoreDir(config.storeDir), config, providerIds, true);
  if (provided.length) out.line(`would trust providers ${providerIds.join(', ')}: ${provided.join(', ')}`);
  const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const r = await run(process.execPath, [cli, '--root', paths.root, 'render', '--dry-run', '--json'], { allowFail: true });
  if (r.exitCode !== 0) throw new InputError(`the render plan failed: ${r.stderr.trim().split('\n')[0]}`, 'fix the configuration, then run the dry run again');
  const plan = JSON.parse(r.stdout) as { written: string[]; texts: Record<string, string> };
  for (const f of plan.written) {
    const old = await readText(f);
    out.line(old === undefined ? `would create ${f}` : await fileDiff(f, old, plan.texts[f] ?? ''));
  }
  const mig = await run(process.execPath, [cli, '--root', paths.root, 'migrate', '--dry-run', '--json'], { allowFail: true });
  if (mig.exitCode === 0) for (const line of (JSON.parse(mig.stdout) as { report: string[] }).report) out.line(`would migrate: ${line}`);
  out.line(`would apply: ${'restart the firewall, then ask for confirmation when over SSH'}`);
  return 0;
}
