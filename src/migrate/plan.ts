// Pure: legacy findings -> the entries, config drop-in, admin section and report of a migration.
import ipaddr from 'ipaddr.js';
import { wideValues } from '../store/wide.js';
import { encode } from 'ini';
import type { Entry, Source as EntrySource } from '../model/entry.js';
import { validateName } from '../model/name.js';
import { ALL, describePorts, parsePortList, type Catalog, type PortRange } from '../model/services.js';
import { parseNet, type Net } from '../model/address.js';
import type { Config } from '../store/config.js';
import { DEFAULT_ADMIN_BODY } from '../plan/admin-section.js';
import { ADMIN_CHAIN } from '../plan/rules.js';
import { normalize, servicesFor, subtract, union, type Scope } from './ports.js';
import type { Source } from './rule.js';
import type { Findings, HandLine, KeptRule, Sighting } from './findings.js';
import { shellWord } from './tokens.js';
import type { LegacyKnock } from './knockd.js';
import type { LegacyJails } from './jail.js';

export interface MigrationInputs {
  findings: Findings;
  config: Config;
  /** tm3 entries already in the store */
  existing: Entry[];
  /** the current drop-in, as sections of strings */
  dropin: Record<string, Record<string, string>>;
  /** the admin section already in a tm3 iptables-custom, if there is one */
  adminBody?: string;
  knock?: LegacyKnock;
  /** the address the legacy knock.FAQ gave users, as written there */
  faqServer?: string;
  jails?: LegacyJails;
  now: string;
}

export interface MigrationPlan {
  entries: Entry[];
  /** last good addresses of names, from the legacy files' last-ip */
  seeds: Record<string, Net[]>;
  dropin: Record<string, Record<string, string>>;
  adminBody?: string;
  knockSequence?: number[];
  /** the legacy knock made permanent entries (iptables-knock): tm3's permanent mode stays on */
  knockPermanent: boolean;
  /** legacy jails tm3's own replace, to switch off in a jail.d drop-in */
  disableJails: string[];
  report: string[];
}

/** A source as the report and the grouping name it: its CIDR or its hostname. */
const key = (s: Source) => ('address' in s ? s.address.cidr : s.host);
const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-._]+|[-._]+$/g, '').slice(0, 40);
const addrSlug = (n: Net) => `${n.address}${n.prefix === (n.family === 4 ? 32 : 128) ? '' : `-${n.prefix}`}`.replace(/:/g, '-');
const baseName = (s: Source, prefix: string) => ('address' in s ? `${prefix}-${addrSlug(s.address)}` : s.host).slice(0, 64);

interface Draft { name?: string; source: Source; scope: Scope; kind: Sighting['kind']; label?: string; lastIp?: Net; where: string[]; note?: string; /** the families whose rules named it */ families?: Set<4 | 6>; /** only a NAME.iptables file names it: no legacy rule admitted it, unless a loose rule below does */ fileOnly?: boolean; ruled?: boolean }

export function planMigration(i: MigrationInputs): MigrationPlan {
  const report: string[] = [];
  const catalog: Catalog = new Map(i.config.catalog);
  const customServices: Record<string, string> = {};
  const drafts = groupSightings(i.findings.sightings, report);

  // tm3's default trusted networks (10.0.0.0/8, 192.168.0.0/16) are not the legacy box's: keep
  // only those the legacy rules accepted whole (the original's Kitchen Sink), and loopback.
  const legacyWhole = drafts.filter((d) => d.scope === ALL && 'address' in d.source).map((d) => (d.source as { address: Net }).address.cidr);
  const trusted = i.config.firewall.trusted.filter((t) => ipaddr.parseCIDR(t.cidr)[0].range() === 'loopback' || coveredBy(t, legacyWhole));
  const narrowed = i.config.firewall.trusted.filter((t) => !trusted.includes(t));
  const trustedCidrs = trusted.map((t) => t.cidr);
  const taken = new Set(i.existing.map((e) => e.name));
  const entries: Entry[] = [];
  const seeds: Record<string, Net[]> = {};
  for (const d of drafts) {
    const where = d.where.join(', ');
    if ('address' in d.source && coveredBy(d.source.address, i.dropin.firewall?.trusted ? i.config.firewall.trusted.map((t) => t.cidr) : trustedCidrs)) {
      report.push(`covered by [firewall] trusted, no entry needed: ${key(d.source)} (${where})`);
      continue;
    }
    const fit = servicesFor(d.scope, catalog);
    if (fit.custom) {
      catalog.set(fit.custom.name, fit.custom.ranges);
      customServices[fit.custom.name] = describePorts(fit.custom.ranges);
    }
    const same = i.existing.find((e) => (e.address?.cidr ?? e.host) === key(d.source) && e.services.join() === fit.services.join());
    if (same) {
      report.push(`already whitelisted as ${same.name}: ${key(d.source)} for ${fit.services.join(',')}`);
      continue;
    }
    const base = d.name ?? fallbackName(d, drafts);
    let name = validateName(base);
    for (let n = 2; taken.has(name); n++) name = validateName(`${base.slice(0, 60)}-${n}`);
    taken.add(name);
    const source: EntrySource = d.kind === 'provider' ? 'provider' : /^[0-9]{8}-[0-9]{6}(-[0-9]+)?$/.test(name) ? 'knock' : 'migrated';
    // a name only one family's rules named: its answers for the other family stay out
    const family = 'host' in d.source && d.families?.size === 1 ? [...d.families][0] : undefined;
    const entry: Entry = { name, services: fit.services, source, added: i.now, ...('address' in d.source ? { address: d.source.address } : { host: d.source.host }), ...(family ? { family } : {}) };
    entries.push(entry);
    if (entry.host && d.lastIp) seeds[entry.host] = [d.lastIp];
    report.push(`entry ${name}: ${key(d.source)}${family ? ` (IPv${family} only)` : ''} for ${fit.services.join(',')}${fit.custom ? ` (${customServices[fit.custom.name]})` : ''}, source ${source} (from ${where})`);
    if (d.note) report.push(d.note);
  }

  const dropin = structuredClone(i.dropin);
  const set = (section: string, k: string, v: string) => { (dropin[section] ??= {})[k] = v; };
  const legacy = i.findings.sightings.length + i.findings.hand.length + i.findings.notes.length + Object.keys(i.findings.open).length > 0 || Boolean(i.jails) || Boolean(i.knock && !i.knock.stock);
  // a previous migration's drop-in already says what the legacy box trusted
  if (legacy && !i.dropin.firewall?.trusted) {
    // written even when unchanged: a second run (the legacy files gone) must not decide again
    set('firewall', 'trusted', trustedCidrs.join(', '));
    if (narrowed.length) report.push(`[firewall] trusted narrowed to what the legacy box trusted (${trustedCidrs.join(', ')}): it never accepted ${narrowed.map((t) => t.cidr).join(', ')} as a whole`);
  }
  for (const [n, ports] of Object.entries(customServices)) set('services', n, ports);
  const hand = [...i.findings.hand];
  const open = openPorts(i.findings.open, hand, report);
  if (open && describePorts(open) !== describePorts(normalize(i.config.firewall.open))) set('firewall', 'open', describePorts(open));
  // What the legacy box opened wide stays open (never narrower than the legacy firewall for
  // those it let in), but tm3 refuses wide values unless told: say so, in the drop-in and here.
  const customCatalog = new Map(Object.entries(customServices).map(([n, ports]) => [n, parsePortList(ports, `[services] ${n}`)]));
  for (const w of wideValues(open ?? [], [], customCatalog)) {
    set(w.section, 'allow_wide', 'true');
    report.push(`note: [${w.section}] ${w.what}, as on the legacy box: allow_wide = true is set in [${w.section}], and tm3 doctor names it`);
  }

  let knockSequence: number[] | undefined;
  let knockPermanent = false;
  if (i.knock?.stock) {
    // the package's example is nobody's firewall: not a finding on its own (see the end)
  } else if (i.knock) {
    report.push(...i.knock.notes.map((n) => `knockd: ${n}`));
    if (i.knock.sequence) {
      knockSequence = i.knock.sequence;
      report.push(`knock sequence kept: ${knockSequence.join(' ')}`);
      if (i.knock.scope && i.knock.scope !== ALL) {
        // the legacy knock opened only these ports: so does tm3's
        const fit = servicesFor(i.knock.scope, catalog);
        if (fit.custom) { catalog.set(fit.custom.name, fit.custom.ranges); customServices[fit.custom.name] = describePorts(fit.custom.ranges); set('services', fit.custom.name, customServices[fit.custom.name]); }
        set('knock', 'services', fit.services.join(','));
        report.push(`knocks open ${fit.services.join(',')} only, as knockd's command did`);
      }
      if (i.knock.permanent) {
        knockPermanent = true;
        report.push("permanent knock mode kept: knockd's command made whitelist entries (iptables-knock), so tm3 knock activate is on; tm3 knock deactivate makes knocks timed only");
      } else report.push('note: knocks give timed access, as on the legacy box');
      if (i.knock.grantSeconds && i.knock.grantSeconds <= 2_147_483 && i.knock.grantSeconds !== i.config.knock.grantSeconds) set('knock', 'grant_seconds', String(i.knock.grantSeconds));
    } else if (i.config.knock.enabled) set('knock', 'enabled', 'false');
  }

  if (i.faqServer && knockSequence) {
    // the users' cards name this address: tm3's knock.FAQ must name the same one
    let addr: string | undefined;
    try { addr = parseNet(i.faqServer, { what: 'knock.FAQ address' }).address; } catch { /* a name, or "server" */ }
    if (!addr) report.push(`note: /root/knock.FAQ tells users to knock on '${i.faqServer.slice(0, 60)}', not an address: set [server] public_address by hand if the box is behind NAT`);
    else if (!i.config.server.publicAddress) {
      set('server', 'public_address', addr);
      report.push(`knock.FAQ: users were told to knock on ${addr}: [server] public_address = ${addr}, so tm3's knock.FAQ names it too`);
    }
  }

  const disableJails: string[] = [];
  if (i.jails) {
    const f = i.config.fail2ban;
    const s = i.jails.settings;
    const keep = (k: string, v: number | undefined, cur: number, min: number, max: number) => {
      if (v === undefined || v === cur) return;
      if (v < min || v > max) report.push(`Fail2Ban ${k} = ${v} not carried over: tm3 takes ${min} to ${max}`);
      else set('fail2ban', k, String(v));
    };
    keep('bantime', s.bantime, f.bantime, 60, 2_147_483);
    keep('findtime', s.findtime, f.findtime, 10, 2_147_483);
    keep('maxretry', s.maxretry, f.maxretry, 1, 1000);
    if (s.asteriskLog && s.asteriskLog !== f.asteriskLog) set('fail2ban', 'asterisk_log', s.asteriskLog);
    // Only where tm3's own jails run: switching the legacy ones off must not leave the box unguarded.
    for (const j of f.enabled ? i.jails.replaced : []) {
      if (/^[A-Za-z0-9._-]+$/.test(j)) { disableJails.push(j); report.push(`Fail2Ban jail [${j}] switched off: tm3's asterisk, sshd and recidive jails replace it`); }
    }
    report.push(...i.jails.notes.map((n) => `Fail2Ban: ${n}`));
    const whitelisted = [...i.existing, ...entries].flatMap((e) => (e.address ? [e.address.cidr] : []));
    for (const ip of i.jails.ignoreip) {
      if (/^(127\.|::1$|localhost$)/.test(ip)) continue;
      let covered = false;
      try { covered = coveredBy(ipaddr.parseCIDR(ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`), [...whitelisted, ...trustedCidrs]); } catch { /* a name */ }
      if (!covered) report.push(`Fail2Ban ignoreip ${ip} is not whitelisted in tm3, so it can be banned now (fix: tm3 add-ip NAME ${ip} if it must never be)`);
    }
  }

  // rules tm3 adds that a legacy rules.v6 may not have had: said, so nothing changes unseen
  if (i.findings.open[6] !== undefined) report.push('note: tm3 adds to IPv6 what it needs to work: neighbour discovery and router advertisements (hop limit 255), the ICMPv6 errors path MTU needs, and DHCPv6 replies (udp/546 from fe80::/10)');
  const adminBody = adminSection(hand, i.findings.chains, i.adminBody, report);
  for (const n of i.findings.notes) report.push(`${n.level === 'unknown' ? 'NOT UNDERSTOOD' : n.level}: ${n.where}: ${n.text}`);
  if (i.knock?.stock && report.length) report.push("knockd: /etc/knockd.conf is the knockd package's own example (its sequences are published for everyone): not migrated; tm3 uses its own sequence (tm3 knock status)");
  return { entries, seeds, dropin, adminBody, knockSequence, knockPermanent, disableJails, report };
}

const fams = (list: Sighting[]) => new Set(list.flatMap((s) => (s.family ? [s.family] : [])));

/** Sightings of one name make one entry (several sources: NAME, NAME-2 ...); the rest group by source. */
function groupSightings(sightings: Sighting[], report: string[]): Draft[] {
  const named = new Map<string, Sighting[]>();
  for (const s of sightings) if (s.name) named.set(s.name, [...(named.get(s.name) ?? []), s]);
  const drafts: Draft[] = [];
  for (let [name, list] of named) {
    const file = list.find((s) => s.kind === 'file');
    const fileHost = file?.source && 'host' in file.source ? file.source : undefined;
    // Lines the old iptables-restart disabled (#***): the name did not resolve, so the box
    // refused it. A name comes back as a name, with their ports and no address until it
    // resolves; an address never comes back.
    const live = list.filter((s) => !s.disabled);
    const off = list.filter((s) => s.disabled);
    if (off.length && !live.some((s) => s.kind === 'block')) {
      if (!fileHost) { report.push(`NOT UNDERSTOOD: ${off[0].where}: ${name}'s lines were disabled (#***) on the legacy box and no name stands behind them: not whitelisted`); continue; }
      let scope: Scope = off[0].scope;
      for (const s of off.slice(1)) scope = union(scope, s.scope);
      const note = `note: ${off.map((s) => s.where).join(', ')}: ${name} (${fileHost.host}) was disabled (#***) on the legacy box: it stays a name with no address until it resolves; its last-ip is not whitelisted`;
      drafts.push({ name, source: fileHost, scope, kind: 'block', where: [...off.map((s) => s.where), ...(file ? [file.where] : [])], note, families: fams(off) });
      continue;
    }
    list = live;
    // A block holding an address where the file names a host: iptables-save froze the name's
    // answer into rules.v4. The entry keeps the name, and the block's ports.
    const blocks = list.filter((s) => s.kind === 'block' && s.source).map((s) => {
      if (!fileHost || !('address' in s.source!)) return s;
      report.push(`note: ${s.where}: ${s.source.address.cidr} is ${fileHost.host} frozen by iptables-save; the entry keeps the name`);
      return { ...s, source: fileHost };
    });
    // The rules file's entry block knows the ports; a file alone means the original's 'all'.
    const sources = new Map<string, Draft>();
    for (const s of blocks.length ? blocks : list.filter((x) => x.source)) {
      const k = key(s.source!);
      const d = sources.get(k);
      const scope: Scope = blocks.length ? s.scope : ALL;
      if (d) { d.scope = union(d.scope, scope); d.where.push(s.where); if (s.family) d.families!.add(s.family); } else sources.set(k, { name, source: s.source!, scope, kind: s.kind, where: [s.where], fileOnly: !blocks.length, families: fams([s]) });
    }
    if (sources.size === 0) { report.push(`NOT UNDERSTOOD: ${list[0].where}: ${name}.iptables holds no address (blank, or the 1.1.1.1 placeholder of an add-ip that did not finish) and no entry block names one; not migrated`); continue; }
    [...sources.values()].forEach((d, n) => {
      if (n > 0) d.name = `${name}-${n + 1}`;
      if (file && !d.where.includes(file.where)) d.where.push(file.where);
      if (file?.lastIp && 'host' in d.source) d.lastIp = file.lastIp;
      drafts.push(d);
    });
  }
  const bySource = new Map<string, Draft>();
  for (const s of sightings.filter((x) => !x.name && x.source)) {
    const k = key(s.source!);
    const d = drafts.find((x) => key(x.source) === k) ?? bySource.get(k);
    if (d) {
      // a file-only name's rule, outside any block: its ports are the rule's, not 'all'
      d.scope = d.fileOnly && !d.ruled ? s.scope : union(d.scope, s.scope);
      d.ruled = true;
      d.where.push(s.where);
      if (s.family) (d.families ??= new Set()).add(s.family);
      if (s.kind === 'provider' && !d.name) { d.kind = 'provider'; d.label ??= s.label; }
    } else bySource.set(k, { source: s.source!, scope: s.scope, kind: s.kind, label: s.label, where: [s.where], families: fams([s]) });
  }
  // A NAME.iptables that no loaded rule backs was refused by the legacy box: never wider.
  const kept = drafts.filter((d) => {
    if (!d.fileOnly || d.ruled) return true;
    report.push(`NOT UNDERSTOOD: ${d.where.join(', ')}: ${d.name}.iptables names ${key(d.source)}, but no legacy rule admits it (the legacy box refused it): not whitelisted; tm3 ${'host' in d.source ? 'add-fqdn' : 'add-ip'} ${d.name} ${key(d.source).replace(/\/(32|128)$/, '')} if it is wanted`);
    return false;
  });
  return [...kept, ...bySource.values()];
}

function fallbackName(d: Draft, all: Draft[]): string {
  if (d.kind === 'provider') {
    const label = d.label ? slug(d.label) : '';
    if (!label) return baseName(d.source, 'provider');
    return all.filter((x) => x.label === d.label && !x.name).length === 1 ? label : baseName(d.source, label);
  }
  return baseName(d.source, 'migrated');
}

function coveredBy(net: Net | [ipaddr.IPv4 | ipaddr.IPv6, number], cidrs: string[]): boolean {
  const [addr, prefix] = Array.isArray(net) ? net : ipaddr.parseCIDR(net.cidr);
  return cidrs.some((c) => {
    const [n, p] = ipaddr.parseCIDR(c);
    return n.kind() === addr.kind() && p <= prefix && addr.match(n, p);
  });
}

/**
 * [firewall] open holds what both families opened; a port only one family opened becomes a hand
 * rule of that family, so migration never opens IPv6 where rules.v6 did not (or IPv4 likewise).
 * With one family's file alone, its ports stand for both: the original left the other wide open.
 */
function openPorts(open: Findings['open'], hand: HandLine[], report: string[]): PortRange[] | undefined {
  const [o4, o6] = [open[4], open[6]];
  if (!o4 || !o6) {
    const one = o4 ?? o6;
    if (one?.length) report.push(`note: no legacy IPv${o4 ? 6 : 4} rules (the original left that family wide open): it gets the same open ports, ${describePorts(one)}`);
    return one;
  }
  const both = subtract(o4, subtract(o4, o6));
  for (const [family, only] of [[4, subtract(o4, both)], [6, subtract(o6, both)]] as const) {
    for (const r of only) {
      const port = r.from === r.to ? String(r.from) : `${r.from}:${r.to}`;
      hand.push({ kind: 'rule', family, table: 'filter', chain: 'INPUT', args: ['-p', r.proto, '-m', r.proto, '--dport', port, '-j', 'ACCEPT'], where: `rules.v${family}` });
      report.push(`kept: ${r.proto}/${port} is open to everyone over IPv${family} only: a hand rule in iptables-custom, not [firewall] open`);
    }
  }
  return both;
}

/** Kept rules become idempotent commands ("-C ... || -A ..."), added to the admin's own section in their legacy order. */
function adminSection(hand: HandLine[], chains: Findings['chains'], existing: string | undefined, report: string[]): string | undefined {
  const lines: string[] = [];
  const seenChains = new Set<string>();
  const rules = hand.filter((h): h is Extract<HandLine, { kind: 'rule' }> => h.kind === 'rule');
  for (const c of chains) {
    const k = `${c.family} ${c.table} ${c.chain}`;
    if (seenChains.has(k) || !rules.some((r) => r.family === c.family && r.table === c.table && (r.chain === c.chain || r.args.includes(c.chain)))) continue;
    seenChains.add(k);
    const cmd = command(c.family, c.table, ['-N', c.chain]);
    if (cmd) lines.push(`${cmd} 2>/dev/null`);
  }
  for (const h of hand) {
    const line = h.kind === 'raw' ? h.text : keptLine(h);
    if (line) lines.push(line);
    else report.push(`NOT UNDERSTOOD: ${h.where}: a rule with quotes or control characters is not carried over; add it to the ADMIN SECTION by hand`);
  }
  if (lines.length === 0) return undefined;
  const body = existing ?? DEFAULT_ADMIN_BODY;
  const have = new Set(body.split('\n'));
  const add = lines.filter((l) => !have.has(l));
  if (add.length === 0) return undefined;
  return `${body}# Carried over by tm3 migrate from the legacy firewall:\n${add.join('\n')}\n`;
}

function command(family: 4 | 6, table: string, args: string[]): string | undefined {
  const ws = [family === 4 ? 'iptables' : 'ip6tables', '-w', ...(table === 'filter' ? [] : ['-t', table]), ...args].map(shellWord);
  return ws.every((w) => w !== undefined) ? ws.join(' ') : undefined;
}

function keptLine(r: KeptRule): string | undefined {
  const chain = r.admin ? ADMIN_CHAIN : r.chain;
  const check = command(r.family, r.table, ['-C', chain, ...r.args]);
  const add = command(r.family, r.table, r.admin === 'first' ? ['-I', chain, '1', ...r.args] : ['-A', chain, ...r.args]);
  return check && add ? `${check} 2>/dev/null || ${add}` : undefined;
}

/** The drop-in text: only validated names, port lists and numbers reach it. */
export function dropinText(sections: Record<string, Record<string, string>>): string {
  return `# /etc/tm3/tm3.conf.d/50-migrated.conf, written by tm3 migrate from the legacy firewall.\n# Edit freely; tm3 migrate --rollback removes it.\n${encode(sections).trimEnd()}\n`;
}

