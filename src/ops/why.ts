import { parseHost, netContains, printable, type Family } from '../model/address.js';
import { InputError } from '../model/errors.js';
import { ALL, type Proto } from '../model/services.js';
import type { Entry } from '../model/entry.js';
import { verdict, type Access } from '../plan/reach.js';
import { planSets, entryAddresses, setName, BAN } from '../plan/sets.js';
import { extractAdminBody } from '../plan/admin-section.js';
import { readText } from '../store/files.js';
import { jailBans, fail2banRunning, type JailBan } from '../apply/fail2ban.js';
import { kernelAccess, plannedAccess } from './lockout.js';
import { liveGrants, withPeople } from './grants.js';
import { loadState, type State } from './state.js';
import type { Ctx } from '../cli/context.js';

// `tm3 why ADDRESS [PROTO/PORT]`: the kernel's answer, walked over the rules as the kernel holds
// them (loopback, the ban set, the ADMIN SECTION's chain, trusted networks, open ports, the
// whitelist sets, knock grants), then told in the files' words. What the files would answer is
// worked out too, so a kernel that drifted from them is named rather than explained away.

export type Reason =
  | { kind: 'trusted'; network: string }
  | { kind: 'open'; ports: string }
  | { kind: 'entry'; set: string; service: string; entries: string[] }
  | { kind: 'knock'; secondsLeft: number | null }
  | { kind: 'banned'; set: string }
  | { kind: 'rule'; rule: string }
  | { kind: 'policy'; policy: string };

export interface Check { proto: Proto; port: number; service?: string; accepted: boolean; reason: Reason; text: string }

export interface EntryInfo {
  name: string; target: string; kind: 'address' | 'fqdn'; services: string[]; source: string; added: string;
  family?: 4 | 6; addresses: string[];
  /** an fqdn entry: the name's last good answer, and when it came */
  answer?: { host: string; addresses: string[]; okAt: string | null; error?: string };
}

export interface Why {
  address: string;
  family: Family;
  /** "udp/5060", or null: every service of the catalog */
  port: string | null;
  accepted: boolean;
  summary: string;
  checks: Check[];
  /** entries in the files that hold or cover the address */
  entries: EntryInfo[];
  grant: { secondsLeft: number; people?: string[] } | null;
  ban: { inKernel: boolean; jails: { jail: string; secondsLeft: number | null }[] } | null;
  /** where the kernel and the files disagree, each with what to run */
  drift: string[];
  /** what would let the address in */
  fixes: string[];
}

/** "udp/5060" or "tcp/22"; "5060/udp" is read too. */
export function parsePortArg(text: string): { proto: Proto; port: number } {
  const t = String(text).trim().toLowerCase();
  const m = /^(tcp|udp)\/(\d{1,5})$/.exec(t);
  const r = m ? undefined : /^(\d{1,5})\/(tcp|udp)$/.exec(t);
  const proto = (m?.[1] ?? r?.[2]) as Proto | undefined;
  const port = Number(m?.[2] ?? r?.[1] ?? NaN);
  if (!proto || !(port >= 1 && port <= 65535)) {
    throw new InputError(`'${printable(text)}' is not PROTO/PORT`, 'write the protocol and one port 1-65535, e.g. udp/5060 or tcp/22');
  }
  return { proto, port };
}

/** The first catalog service whose ports hold proto/port (catalog order: sip before sip-udp). */
export function serviceFor(ctx: Ctx, proto: Proto, port: number): string | undefined {
  return [...ctx.config.catalog].find(([, ranges]) => ranges.some((r) => r.proto === proto && port >= r.from && port <= r.to))?.[0];
}

function reasonOf(text: string, grantLeft: number | null): Reason {
  const set = /^(?:banned \()?set (tm3-(.+)-[46])\)?$/.exec(text);
  if (set && (set[2] === BAN || text.startsWith('banned'))) return { kind: 'banned', set: set[1] };
  // the site knock's set, or a person's service set (tm3-knock-ssh-4): service names never start so
  if (set && (set[2] === 'knock' || set[2].startsWith('knock-'))) return { kind: 'knock', secondsLeft: grantLeft };
  if (set) return { kind: 'entry', set: set[1], service: set[2], entries: [] };
  const m = /^(trusted|open) (\S+)$/.exec(text);
  if (m?.[1] === 'trusted') return { kind: 'trusted', network: m[2] };
  if (m?.[1] === 'open') return { kind: 'open', ports: m[2] };
  const p = /^INPUT policy (\S+)$/.exec(text);
  if (p) return { kind: 'policy', policy: p[1] };
  return { kind: 'rule', rule: /^the rule '(.*)'$/.exec(text)?.[1] ?? text };
}

const covers = (e: Entry, state: State, address: string) => entryAddresses(e, state.cache).some((c) => netContains(c, address));

export function duration(s: number | null): string {
  if (s === null) return 'no end';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function entryInfo(e: Entry, state: State): EntryInfo {
  const rec = e.host ? state.cache[e.host] : undefined;
  return {
    name: e.name, target: e.address?.cidr ?? e.host!, kind: e.host ? 'fqdn' : 'address', services: e.services, source: e.source, added: e.added,
    ...(e.family ? { family: e.family } : {}),
    addresses: entryAddresses(e, state.cache),
    ...(e.host ? { answer: { host: e.host, addresses: [...(rec?.v4 ?? []), ...(rec?.v6 ?? [])], okAt: rec?.okAt ?? null, ...(rec?.error ? { error: rec.error } : {}) } } : {}),
  };
}

function describe(r: Reason, infos: EntryInfo[], ban: Why['ban']): string {
  switch (r.kind) {
    case 'trusted': return `trusted network ${r.network} ([firewall] trusted)`;
    case 'open': return `port open to everyone (${r.ports}, [firewall] open)`;
    case 'knock': return `a live knock grant (${duration(r.secondsLeft)} left)`;
    case 'banned': {
      const jails = ban?.jails.length ? ban.jails.map((j) => `${j.jail}, ${duration(j.secondsLeft)} left`).join('; ') : 'no running jail holds it';
      return `banned by Fail2Ban (${jails}; set ${r.set})`;
    }
    case 'policy': return r.policy === 'DROP' ? 'not whitelisted' : `INPUT policy ${r.policy}: the firewall is not active`;
    case 'rule': return `a rule tm3 did not write (the ADMIN SECTION of iptables-custom, or typed by hand): ${r.rule}`;
    case 'entry': {
      if (!r.entries.length) return `set ${r.set}, which no entry in the files explains`;
      return r.entries.map((n) => {
        const i = infos.find((x) => x.name === n)!;
        const from = i.answer ? `${i.answer.host}, from the DNS answer ${i.addresses.join(' ')}${i.answer.okAt ? ` of ${i.answer.okAt}` : ' (the legacy file\'s last-ip)'}` : i.target;
        return `entry ${i.name} (services ${i.services.join(',')}; source ${i.source}; ${from})`;
      }).join(', ');
    }
  }
}

export async function why(ctx: Ctx, addressText: string, portText?: string): Promise<Why> {
  const net = parseHost(addressText, 'address');
  const asked = portText === undefined ? undefined : parsePortArg(portText);
  const address = net.address;
  const family = net.family;
  const state = await loadState(ctx);
  const kernel = await kernelAccess();
  const adminBody = extractAdminBody(await readText(ctx.paths.custom)) ?? '';
  const files = plannedAccess(ctx, kernel, planSets(ctx.config, state.entries, state.cache), adminBody);
  const k = kernel.find((a) => a.family === family)!;
  const f = files.find((a) => a.family === family)!;

  const grant = (await withPeople(ctx.paths, await liveGrants())).find((g) => g.address === address);
  const kernelBanned = (k.sets.get(setName(BAN, family)) ?? []).some((m) => m.split('/')[0] === address);
  let jails: JailBan[] = [];
  if (ctx.config.fail2ban.enabled && (await fail2banRunning(ctx.paths))) jails = (await jailBans(ctx.paths)).filter((b) => b.address === address);
  const ban: Why['ban'] = ctx.config.fail2ban.enabled || kernelBanned ? { inKernel: kernelBanned, jails: jails.map(({ jail, secondsLeft }) => ({ jail, secondsLeft })) } : null;

  const infos = state.entries.filter((e) => covers(e, state, address)).map((e) => entryInfo(e, state));
  const probes: { proto: Proto; port: number; service?: string }[] = asked
    ? [{ ...asked, service: serviceFor(ctx, asked.proto, asked.port) }]
    : [...ctx.config.catalog].flatMap(([service, ranges]) => ranges.map((r) => ({ proto: r.proto, port: r.from, service })));

  const drift: string[] = [];
  const withEntries = (r: Reason): Reason => (r.kind === 'entry' ? { ...r, entries: infos.filter((i) => i.services.includes(r.service)).map((i) => i.name) } : r);
  const judge = (acc: Access, p: { proto: Proto; port: number }) => verdict(acc, address, p.proto, p.port);
  const checks: Check[] = probes.map((p) => {
    const v = judge(k, p);
    const reason = withEntries(reasonOf(v.reason, grant?.secondsLeft ?? null));
    const planned = judge(f, p);
    const where = `${p.proto}/${p.port}`;
    if (planned.accepted !== v.accepted) {
      drift.push(v.accepted
        ? `the kernel accepts ${where} through ${describe(reason, infos, ban)}, but the files do not (run tm3 restart to bring the kernel back to the files)`
        : `the files accept ${where} (${describe(withEntries(reasonOf(planned.reason, null)), infos, null)}), but the kernel drops it (run tm3 restart)`);
    }
    return { ...p, accepted: v.accepted, reason, text: describe(reason, infos, ban) };
  });
  if (kernelBanned && jails.length === 0 && ctx.config.fail2ban.enabled) drift.push('the kernel\'s ban set holds it but no running jail does (Fail2Ban stopped, or a ban added by hand): tm3 unban lifts it');
  if (!kernelBanned && jails.length) drift.push(`jail ${jails.map((j) => j.jail).join(', ')} bans it but the kernel's ban set does not hold it (run tm3 restart)`);

  const accepted = checks.some((c) => c.accepted);
  const fixes: string[] = [];
  const isBanned = kernelBanned || jails.length > 0;
  if (isBanned) fixes.push(`tm3 unban ${address}`);
  if (drift.some((d) => d.includes('the files accept'))) fixes.push('tm3 restart');
  else if (checks.some((c) => !c.accepted && c.reason.kind === 'rule')) fixes.push(`take that rule out of the ADMIN SECTION of ${ctx.paths.custom}, then tm3 restart`);
  else if (!asked ? !accepted : !checks[0].accepted) {
    // what the files would still refuse once the ban is gone: only that needs an entry
    const unbanned = { ...f, sets: new Map([...f.sets].filter(([n]) => n !== setName(BAN, family))) };
    // (no port asked: only when nothing would be accepted; a phone in for sip needs no web entry)
    const refused = checks.some((c) => judge(unbanned, c).accepted) ? [] : checks.filter((c) => c.reason.kind === 'policy' || c.reason.kind === 'banned');
    if (asked && refused.length && !refused[0].service) fixes.push(`no service of the catalog holds ${asked.proto}/${asked.port}: add one under [services] in tm3.conf, or tm3 add-ip NAME ${address} --services all`);
    else if (refused.length) fixes.push(`tm3 add-ip NAME ${address} --services ${refused[0].service}`);
    const knockable = ctx.config.knock.enabled && ctx.config.knock.services.some((svc) => svc === ALL || (asked ? svc === refused[0]?.service : true));
    if (refused.length && knockable && !isBanned) fixes.push('knock from it (the sequence is in /root/knock.FAQ)');
  }

  const label = asked ? `${asked.proto}/${asked.port}${checks[0].service ? ` (${checks[0].service})` : ''}` : 'any service';
  const summary = asked
    ? `${address} -> ${label}: ${checks[0].accepted ? 'ACCEPTED' : 'DROPPED'}: ${checks[0].text}`
    : `${address}: ${accepted ? `ACCEPTED for ${[...new Set(checks.filter((c) => c.accepted).map((c) => c.service))].join(', ')}` : 'DROPPED for every service'}`;
  return {
    address, family, port: asked ? `${asked.proto}/${asked.port}` : null, accepted, summary, checks, entries: infos,
    grant: grant ? { secondsLeft: grant.secondsLeft, ...(grant.people ? { people: grant.people } : {}) } : null, ban, drift, fixes,
  };
}
