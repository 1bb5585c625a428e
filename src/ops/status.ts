import { planSets, changedSets, entryAddresses, setName, BAN } from '../plan/sets.js';
import { planRules, WHITELIST_CHAIN } from '../plan/rules.js';
import { readSetState } from '../apply/ipset.js';
import { inputPolicy, chainRules } from '../apply/iptables.js';
import type { Ctx } from '../cli/context.js';
import { netContains, type Family } from '../model/address.js';
import { jailBans, fail2banRunning } from '../apply/fail2ban.js';
import { loadState, type State } from './state.js';

export interface EntryStatus {
  name: string;
  target: string;
  kind: 'address' | 'fqdn';
  services: string[];
  source: string;
  added: string;
  addresses: string[];
  /** seconds since the last successful lookup (FQDN entries only) */
  resolvedAgeSeconds?: number | null;
  lastError?: string;
  /** what the name's last answer held that tm3 refused to whitelist */
  dropped?: string[];
}

export interface Status {
  firewall: { v4: string; v6: string; active: boolean };
  kernelMatchesPlan: boolean;
  problems: string[];
  /** addresses Fail2Ban has banned right now (the kernel's ban sets) */
  bans: string[];
  /** each ban with the jails that hold it, their time left (null: no end), and the entries that also whitelist it */
  banDetails: BanDetail[];
  entries: EntryStatus[];
}

export interface BanDetail { address: string; jails: { jail: string; secondsLeft: number | null }[]; whitelisted: string[] }

export async function status(ctx: Ctx, loaded?: State): Promise<Status> {
  const state = loaded ?? (await loadState(ctx));
  const now = Date.now();
  const entries: EntryStatus[] = state.entries.map((e) => {
    const rec = e.host ? state.cache[e.host] : undefined;
    return {
      name: e.name,
      target: e.address?.cidr ?? e.host!,
      kind: e.host ? 'fqdn' : 'address',
      services: e.services,
      source: e.source,
      added: e.added,
      addresses: entryAddresses(e, state.cache),
      ...(e.host ? { resolvedAgeSeconds: rec?.okAt ? Math.round((now - Date.parse(rec.okAt)) / 1000) : null, lastError: rec?.error, ...(rec?.dropped ? { dropped: rec.dropped } : {}) } : {}),
    };
  });
  const problems: string[] = [];
  const policies: Record<string, string> = {};
  for (const fam of [4, 6] as Family[]) {
    policies[`v${fam}`] = await inputPolicy(fam);
    if (policies[`v${fam}`] !== 'DROP') problems.push(`IPv${fam} INPUT policy is ${policies[`v${fam}`]}, not DROP`);
    const have = await chainRules(fam, WHITELIST_CHAIN);
    if (!have) { problems.push(`IPv${fam} chain ${WHITELIST_CHAIN} is missing`); continue; }
    const missing = planRules(ctx.config, fam).whitelist.filter((r) => !have.includes(`-A ${WHITELIST_CHAIN} ${r}`));
    if (missing.length) problems.push(`IPv${fam} chain ${WHITELIST_CHAIN} lacks ${missing.length} rule(s)`);
  }
  const { sets: kernel, lacking } = await readSetState();
  for (const s of changedSets(planSets(ctx.config, state.entries, state.cache), kernel, lacking)) {
    problems.push(!kernel.has(s.name) ? `set ${s.name} is missing from the kernel` : lacking.has(s.name) && changedSets([s], kernel).length === 0 ? `set ${s.name} has no hit counters (an older tm3 made it; tm3 restart converts it)` : `set ${s.name} differs from the store`);
  }
  const bans = [...(kernel.get(setName(BAN, 4)) ?? []), ...(kernel.get(setName(BAN, 6)) ?? [])].map((c) => c.split('/')[0]);
  const jails = bans.length && ctx.config.fail2ban.enabled && (await fail2banRunning(ctx.paths)) ? await jailBans(ctx.paths) : [];
  const banDetails = bans.map((address) => ({
    address,
    jails: jails.filter((j) => j.address === address).map(({ jail, secondsLeft }) => ({ jail, secondsLeft })),
    whitelisted: entries.filter((e) => e.addresses.some((c) => netContains(c, address))).map((e) => e.name),
  }));
  return {
    firewall: { v4: policies.v4, v6: policies.v6, active: policies.v4 === 'DROP' && policies.v6 === 'DROP' },
    kernelMatchesPlan: problems.length === 0,
    problems,
    bans,
    banDetails,
    entries,
  };
}
