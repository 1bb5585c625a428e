// Legacy denies in tm3: a DROP, REJECT or jump that stood among the legacy ACCEPTs goes to
// TM3-ADMIN (after loopback, bans and replies, ahead of tm3's accepts), in legacy order, and
// every ACCEPT the legacy box met before it gets a RETURN ahead of it there, so it still wins.
// Pure: both readers (rules files, scripts) call it with what they have met so far.
import ipaddr from 'ipaddr.js';
import { ALL } from '../model/services.js';
import { portMatches } from '../plan/rules.js';
import { parseSource, targetOf, type Source } from './rule.js';
import type { Family, Findings, Level } from './findings.js';
import type { Scope } from './ports.js';

/** An ACCEPT met earlier: anyone (an open port), an address, or a name. */
export interface Accepted { source?: Source; scope: Scope; where: string }

type Note = (text: string, level?: Level) => void;

/**
 * The deny's own rules for TM3-ADMIN, with their meaning kept: a RETURN from INPUT fell to the
 * policy (DROP), and so did a goto whose chain gave no verdict.
 */
export function asAdmin(args: string[]): string[][] {
  const { target, goto } = targetOf(args);
  const at = args.findIndex((a, i) => (a === '-j' || a === '--jump' || a === '-g' || a === '--goto') && args[i - 1] !== '--comment');
  const match = args.slice(0, at);
  if (target === 'RETURN') return [[...match, ...args.slice(at + 2), '-j', 'DROP']];
  if (goto) return [[...match, '-j', target!, ...args.slice(at + 2)], [...match, '-j', 'DROP']];
  return [args];
}

/** Push a legacy deny (and the RETURNs for what came before it) into `into.hand`, for TM3-ADMIN. */
export function keepDeny(into: Findings, family: Family, table: string, chain: string, args: string[], where: string, note: Note): void {
  for (const r of exemptions(args, into.accepted[family], where, note)) into.hand.push({ kind: 'rule', family, table, chain, args: r, where, admin: 'append' });
  for (const r of asAdmin(args)) into.hand.push({ kind: 'rule', family, table, chain, args: r, where, admin: 'append' });
}

/** RETURN rules for the ACCEPTs met before a deny whose sources can overlap it. A name cannot be matched there: reported. */
export function exemptions(deny: string[], before: Accepted[], where: string, note: Note): string[][] {
  const i = deny.findIndex((a, k) => (a === '-s' || a === '--source') && deny[k - 1] !== '!');
  const src = i >= 0 ? parseSource(deny[i + 1] ?? '') : 'anywhere';
  const out: string[][] = [];
  for (const a of before) {
    if (a.source && 'host' in a.source) {
      note(`${a.source.host} (accepted at ${a.where}) came before the deny at ${where}; a name cannot be let past it in TM3-ADMIN, so if it falls under that deny it loses those ports`, 'unknown');
      continue;
    }
    const addr = a.source && 'address' in a.source ? a.source.address : undefined;
    if (addr && src && typeof src === 'object' && 'address' in src && !overlap(addr.cidr, src.address.cidr)) continue;
    out.push(...returns(a));
  }
  return out;
}

/** RETURN rules for one accepted source and its ports. */
export function returns(a: Accepted): string[][] {
  const addr = a.source && 'address' in a.source ? a.source.address : undefined;
  const from = addr ? ['-s', addr.cidr] : [];
  if (a.scope === ALL) return [[...from, '-j', 'RETURN']];
  return portMatches(a.scope).map((m) => [...from, '-p', m.proto, '-m', 'multiport', '--dports', m.dports, '-j', 'RETURN']);
}

function overlap(a: string, b: string): boolean {
  const [na, pa] = ipaddr.parseCIDR(a);
  const [nb, pb] = ipaddr.parseCIDR(b);
  if (na.kind() !== nb.kind()) return false;
  return na.match(nb, pb) || nb.match(na, pa);
}
