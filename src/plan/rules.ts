import type { Config } from '../store/config.js';
import type { Family } from '../model/address.js';
import { ALL, type PortRange, type Proto } from '../model/services.js';
import ipaddr from 'ipaddr.js';
import { setName, serviceNames, personServices, personSetName, KNOCK, BAN, KNOWN, GRANTED } from './sets.js';

export const WHITELIST_CHAIN = 'TM3-WHITELIST';
/** Every rule tm3 writes carries it, so a rule in the kernel says whether tm3 wrote it. */
export const MARK = '-m comment --comment tm3';
/** Who may hear this server's ICMP unreachables: loopback, trusted networks and the whitelist. */
export const QUIET_CHAIN = 'TM3-QUIET';
/** Where the ADMIN SECTION puts denies that must come before the whitelist (tm3 migrate does). */
export const ADMIN_CHAIN = 'TM3-ADMIN';
/** IPv6: the ICMPv6 accepts, behind one protocol match, so other packets pass them in one step. */
export const ICMP_CHAIN = 'TM3-ICMP6';

export interface RuleModel {
  family: Family;
  trusted: string[];
  /** iptables match text for ports open to everyone */
  open: string[];
  /** rule bodies for TM3-WHITELIST (after "-A TM3-WHITELIST ") */
  whitelist: string[];
  /** the ban match, ahead of the ESTABLISHED accept so a ban also ends a running UDP flow */
  ban?: string;
  /** whitelist sets (the union of every service's, and knock grants): who may hear an ICMP unreachable */
  quiet: string[];
  /** trusted networks a packet may only claim when it arrives where the route back leaves (rpfilter) */
  spoofable: string[];
}

/** multiport takes at most 15 ports, a range counting as two. */
export function portMatches(ranges: PortRange[]): { proto: Proto; dports: string }[] {
  const out: { proto: Proto; dports: string }[] = [];
  for (const proto of ['udp', 'tcp'] as Proto[]) {
    let chunk: string[] = [];
    let slots = 0;
    for (const r of ranges.filter((x) => x.proto === proto)) {
      const cost = r.from === r.to ? 1 : 2;
      if (slots + cost > 15) { out.push({ proto, dports: chunk.join(',') }); chunk = []; slots = 0; }
      chunk.push(r.from === r.to ? String(r.from) : `${r.from}:${r.to}`);
      slots += cost;
    }
    if (chunk.length) out.push({ proto, dports: chunk.join(',') });
  }
  return out;
}

/** Trusted networks other than loopback (whose sources off lo the kernel drops as martians already). */
export function spoofable(config: Config, family: Family): string[] {
  return config.firewall.trusted.filter((n) => n.family === family && ipaddr.parseCIDR(n.cidr)[0].range() !== 'loopback').map((n) => n.cidr);
}

/** The INPUT layout for one family; depends only on config, so rules.v4/v6 never change with the whitelist. */
export function planRules(config: Config, family: Family): RuleModel {
  const whitelist: string[] = [];
  const allow = (svc: string, set: string) => {
    const match = `-m set --match-set ${set} src`;
    if (svc === ALL) return whitelist.push(`${match} ${MARK} -j ACCEPT`);
    for (const m of portMatches(config.catalog.get(svc) ?? [])) whitelist.push(`-p ${m.proto} -m multiport --dports ${m.dports} ${match} ${MARK} -j ACCEPT`);
  };
  // A stranger leaves after one lookup in the union of the whitelist sets (and, with knocking
  // on, one in the union of the live grants), not one per service its port matches or per grant
  // set: a flood from one costs little more than a single DROP rule. Back in INPUT it meets the
  // ADMIN SECTION's own appended rules, then the DROP policy. iptables cannot OR two set
  // matches in one rule, so the rule asks for neither: in no union, RETURN.
  const granted = config.knock.enabled ? ` -m set ! --match-set ${setName(GRANTED, family)} src` : '';
  whitelist.push(`-m set ! --match-set ${setName(KNOWN, family)} src${granted} ${MARK} -j RETURN`);
  // Knock grants live in their own timed sets, so an expiring grant never touches an entry. The
  // grant union above only lets their holders this far; these rules still decide what they reach.
  if (config.knock.enabled) for (const svc of config.knock.services) allow(svc, setName(KNOCK, family));
  // A person's grant is in the timed set of each of their services, so it reaches only those.
  if (config.knock.enabled) for (const svc of personServices(config)) allow(svc, personSetName(svc, family));
  for (const svc of serviceNames(config)) allow(svc, setName(svc, family));
  return {
    family,
    trusted: config.firewall.trusted.filter((n) => n.family === family).map((n) => n.cidr),
    spoofable: spoofable(config, family),
    open: portMatches(config.firewall.open).map((m) => `-p ${m.proto} -m multiport --dports ${m.dports}`),
    whitelist,
    // the union holds every service set's members; grants are in their own timed sets
    quiet: [setName(KNOWN, family), ...(config.knock.enabled ? [setName(KNOCK, family), ...personServices(config).map((svc) => personSetName(svc, family))] : [])],
    ban: config.fail2ban.enabled ? `-m set --match-set ${setName(BAN, family)} src` : undefined,
  };
}
