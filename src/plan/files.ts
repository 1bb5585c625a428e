import type { Config } from '../store/config.js';
import type { Paths } from '../store/paths.js';
import type { Family } from '../model/address.js';
import { render } from './render.js';
import { planRules, WHITELIST_CHAIN, QUIET_CHAIN, ADMIN_CHAIN, ICMP_CHAIN } from './rules.js';
import { setOptions, type SetPlan } from './sets.js';
import { DEFAULT_ADMIN_BODY, extractAdminBody, spliceAdminBody } from './admin-section.js';
import { VERSION } from '../version.js';
import { knockFiles, type KnockInputs } from './knock-files.js';
import { fail2banFiles } from './fail2ban-files.js';

export interface PlannedFile { path: string; text: string; mode: number }

export function rulesText(config: Config, family: Family): string {
  return render(family === 4 ? 'rules.v4' : 'rules.v6', { version: VERSION, chain: WHITELIST_CHAIN, quietChain: QUIET_CHAIN, adminChain: ADMIN_CHAIN, icmpChain: ICMP_CHAIN, ...planRules(config, family) });
}

/** netfilter-persistent's ipset plugin format ("ipset restore -exist" at boot). */
export function ipsetsText(sets: SetPlan[]): string {
  return render('ipsets', { version: VERSION, sets: sets.map((s) => ({ name: s.name, options: setOptions(s), members: s.members })) });
}

export function customScript(config: Config, paths: Paths, sets: SetPlan[], existing: string | undefined): string {
  const rendered = render('iptables-custom', {
    version: VERSION,
    failsafe: paths.failsafe,
    chain: WHITELIST_CHAIN,
    families: ([4, 6] as Family[]).map((f) => ({ bin: f === 4 ? 'iptables' : 'ip6tables', rules: planRules(config, f).whitelist })),
  });
  return spliceAdminBody(rendered, extractAdminBody(existing) ?? DEFAULT_ADMIN_BODY);
}

/** systemd units, the boot failsafe and the if-up hooks; `tm3` is the command they run, root included. */
export function bootFiles(config: Config, paths: Paths, tm3: string): PlannedFile[] {
  const base = { version: VERSION, tm3, ipsetsFile: paths.ipsets, custom: paths.custom, failsafe: paths.failsafe, refreshSoon: paths.refreshSoon, lockDir: paths.runDir };
  const unit = (name: string, extra: object = {}) => ({ path: paths.unit(name), text: render(name, { ...base, ...extra }), mode: 0o644 });
  const script = (file: string, template: string, extra: object = {}) => ({ path: file, text: render(template, { ...base, self: paths.inServer(file), ...extra }), mode: 0o755 });
  return [
    unit('tm3-firewall.service', { fail2ban: config.fail2ban.enabled }),
    unit('tm3-refresh.service'),
    unit('tm3-refresh.timer'),
    script(paths.failsafe, 'tm3-failsafe', { rulesV4: rulesText(config, 4), rulesV6: rulesText(config, 6) }),
    script(paths.refreshSoon, 'hooks/refresh-soon'),
    script(paths.hookIfupdown, 'hooks/if-up'),
    script(paths.hookNetworkManager, 'hooks/networkmanager'),
    script(paths.hookNetworkd, 'hooks/networkd-dispatcher'),
  ];
}

/** The original's command names in the store dir (/root), each a wrapper around tm3. */
export const ORIGINAL_COMMANDS: Record<string, string> = {
  'add-ip': 'add-ip', 'add-fqdn': 'add-fqdn', 'del-acct': 'del-acct', 'iptables-restart': 'restart', 'iptables-knock': 'knock', ipchecker: 'refresh --reason ipchecker',
};

export function wrapperFiles(paths: Paths, tm3: string): PlannedFile[] {
  return Object.keys(ORIGINAL_COMMANDS).map((name) => wrapperFile(paths, tm3, name, `${paths.storeDir}/${name}`));
}

/** One original command NAME at FILE (under the root), as a wrapper around tm3. */
export function wrapperFile(paths: Paths, tm3: string, name: string, file: string): PlannedFile {
  return { path: file, text: render('wrapper', { version: VERSION, self: paths.inServer(file), tm3, args: ORIGINAL_COMMANDS[name] }), mode: 0o750 };
}

/** Everything `tm3 render` writes. Pure: the caller reads the existing script for its admin section. */
export interface PlanInputs {
  /** the current iptables-custom, for its admin section */
  existingCustom: string | undefined;
  /** how generated files call tm3 */
  tm3: string;
  knock?: KnockInputs;
  /** a systemd host (fail2ban's sshd jail reads the journal there) */
  systemd: boolean;
  /** never banned: admin entries at their current addresses and the server's own */
  banExempt?: string[];
  /** Asterisk writes each failure twice to the jail's log file */
  asteriskTwins?: boolean;
}

export function planFiles(config: Config, paths: Paths, sets: SetPlan[], { existingCustom, tm3, knock, systemd, banExempt, asteriskTwins }: PlanInputs): PlannedFile[] {
  return [
    { path: paths.rulesV4, text: rulesText(config, 4), mode: 0o640 },
    { path: paths.rulesV6, text: rulesText(config, 6), mode: 0o640 },
    { path: paths.ipsets, text: ipsetsText(sets), mode: 0o640 },
    { path: paths.custom, text: customScript(config, paths, sets, existingCustom), mode: 0o755 },
    ...bootFiles(config, paths, tm3),
    ...wrapperFiles(paths, tm3),
    ...(knock ? knockFiles(config, paths, knock) : []),
    ...(config.fail2ban.enabled ? fail2banFiles(config, paths, tm3, systemd, banExempt, asteriskTwins) : []),
  ];
}
