import ipaddr from 'ipaddr.js';
import { netContains, type Family } from '../model/address.js';

// Would a NEW packet from ADDRESS to PROTO/PORT be accepted? Evaluated over iptables -S lines
// (the kernel's, or a rendered rules file's) and set members, knowing only the shapes tm3 itself
// writes. A rule it does not understand is passed over: access that comes from elsewhere (an
// ADMIN SECTION line) is not tm3's to grant or take away, so it never makes a change look safe
// or unsafe by accident.

export interface Access { family: Family; lines: string[]; sets: Map<string, string[]> }
export interface Verdict { accepted: boolean; reason: string }

interface Rule { line: string; mine: boolean; chain: string; src?: string; srcNot?: boolean; proto?: string; dports?: string; set?: string; setNot?: boolean; /** every set match of the rule (the stranger's RETURN has two), all must hold */ sets: { name: string; not: boolean }[]; skip: boolean; target: string }

// Options that restrict nothing a NEW packet from an address to a port is judged by.
const NEUTRAL = new Set(['-m', '--match', '--comment']);

function parseRule(line: string): Rule | undefined {
  const w = line.trim().split(/\s+/);
  if (w[0] !== '-A' || !w[1]) return undefined;
  const r: Rule = { line: line.trim(), mine: line.includes('--comment tm3 '), chain: w[1], sets: [], skip: false, target: '' };
  let not = false;
  for (let i = 2; i < w.length; i++) {
    const [k, v] = [w[i], w[i + 1]];
    if (k === '!') { not = true; continue; }
    if (k === '-s' || k === '--source') { r.src = v; r.srcNot = not; i++; }
    else if (k === '-p' || k === '--protocol') { r.proto = v; r.skip ||= not; i++; }
    else if (k === '--dports' || k === '--dport' || k === '--destination-ports') { r.dports = v; r.skip ||= not; i++; }
    else if (k === '--match-set') { r.set ??= v; r.setNot ??= not; r.sets.push({ name: v, not }); r.skip ||= w[i + 2] !== 'src'; i += 2; }
    else if (k === '-j' || k === '--jump') { r.target = v ?? ''; i++; }
    // an admin's SSH comes in on some interface, never on loopback
    else if (k === '-i' || k === '--in-interface') { r.skip ||= v === 'lo' ? !not : false; i++; }
    else if (NEUTRAL.has(k)) i++;
    // a match this model does not know (an interface, conntrack states, -d, recent, limit...):
    // the rule is passed over rather than guessed at
    else r.skip = true;
    not = false;
  }
  return r;
}

const inNet = (address: string, cidr: string) => netContains(cidr, address);

const portIn = (port: number, dports: string) => dports.split(',').some((p) => {
  const [a, b] = p.split(':').map(Number);
  return port >= a && port <= (b ?? a);
});

/** The INPUT policy, from "-P INPUT X" (iptables -S) or ":INPUT X [0:0]" (a rules file). */
const policyOf = (lines: string[]) => lines.map((l) => /^(?:-P INPUT|:INPUT) (\S+)/.exec(l)?.[1]).find(Boolean) ?? 'ACCEPT';

export function verdict(access: Access, address: string, proto: 'tcp' | 'udp', port: number): Verdict {
  const rules = access.lines.map(parseRule).filter((r): r is Rule => Boolean(r));
  const member = (set: string) => (access.sets.get(set) ?? []).some((c) => inNet(address, c));
  // undefined: the chain ran out (or RETURNed) without a verdict, and its caller goes on
  const walk = (chain: string, depth: number): Verdict | undefined => {
    if (depth > 4) return undefined;
    for (const r of rules.filter((x) => x.chain === chain)) {
      if (r.skip) continue;
      if (r.src && inNet(address, r.src) === Boolean(r.srcNot)) continue;
      if (r.proto && r.proto !== proto && r.proto !== 'all') continue;
      if (r.dports && !portIn(port, r.dports)) continue;
      if (r.sets.some((m) => member(m.name) === m.not)) continue;
      const why = !r.mine ? `the rule '${r.line.slice(0, 80)}'` : r.set ? `set ${r.set}` : r.src ? `trusted ${r.src}` : r.dports ? `open ${r.proto}/${r.dports}` : 'a rule that accepts everything';
      if (r.target === 'RETURN') return undefined;
      if (r.target === 'ACCEPT') return { accepted: true, reason: why };
      if (r.target === 'DROP' || r.target === 'REJECT') return { accepted: false, reason: r.set ? `banned (set ${r.set})` : why };
      if (/^[A-Z0-9-]+$/.test(r.target) && rules.some((x) => x.chain === r.target)) {
        const v = walk(r.target, depth + 1);
        if (v) return v;
      }
    }
    return undefined;
  };
  const v = walk('INPUT', 0);
  if (v) return v;
  const policy = policyOf(access.lines);
  return { accepted: policy === 'ACCEPT', reason: `INPUT policy ${policy}` };
}

export interface Admin { address: string; port: number }
export interface Cut { admin: Admin; before: string; after: string }

/** The admins a change would cut off: reached before, not after. */
export function cutOff(admins: Admin[], before: Access[], after: Access[]): Cut[] {
  const fam = (a: string): Family => (ipaddr.process(a).kind() === 'ipv4' ? 4 : 6);
  const cuts: Cut[] = [];
  for (const admin of admins) {
    const b = before.find((x) => x.family === fam(admin.address));
    const a = after.find((x) => x.family === fam(admin.address));
    if (!b || !a) continue;
    const was = verdict(b, admin.address, 'tcp', admin.port);
    const now = verdict(a, admin.address, 'tcp', admin.port);
    if (was.accepted && !now.accepted) cuts.push({ admin, before: was.reason, after: now.reason });
  }
  return cuts;
}
