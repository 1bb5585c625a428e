// What one legacy INPUT rule means: a whitelist line, an open port, tm3's own base, or unknown.
import ipaddr from 'ipaddr.js';
import { parseNet, type Net } from '../model/address.js';
import { validateHostname } from '../model/hostname.js';
import { ALL, type PortRange, type Proto } from '../model/services.js';
import { normalize, type Scope } from './ports.js';

export type Source = { address: Net } | { host: string };

export type Meaning =
  | { kind: 'whitelist'; source: Source; scope: Scope; comment?: string }
  | { kind: 'open'; scope: PortRange[] }
  | { kind: 'base'; why: string }
  /** an ACCEPT for a whole protocol from anywhere: the opposite of a whitelist, never carried over */
  | { kind: 'wide-open'; what: string }
  | { kind: 'fail2ban' }
  | { kind: 'unknown'; why: string };

/** "5060,5061:5069" -> ranges; undefined for names or anything odd. */
export function parsePorts(proto: Proto, text: string): PortRange[] | undefined {
  const out: PortRange[] = [];
  for (const item of text.split(',')) {
    const m = /^([1-9][0-9]{0,4})(?::([1-9][0-9]{0,4}))?$/.exec(item);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    if (to > 65535 || to < from) return undefined;
    out.push({ proto, from, to });
  }
  return out;
}

/** An address, a network or a hostname, as legacy rules wrote sources; undefined if neither. */
export function parseSource(text: string): Source | 'anywhere' | 'wide' | undefined {
  // Everyone, in every spelling: 0/0, 0.0.0.0/0.0.0.0, ::/0, 0::0/0, and any address with a zero mask
  const [addr, mask] = text.split('/');
  if (mask !== undefined && (/^0+$/.test(mask) || /^0+(\.0+){3}$/.test(mask)) && /^[0-9a-fA-F.:]+$/.test(addr)) return 'anywhere';
  // a list ("-s a,b") is one rule per item to iptables: not one source
  if (text.includes(',')) return undefined;
  try {
    const net = parseNet(text, { force: true, what: 'legacy source' });
    // broader than a /8 (IPv6 /32) is the internet at large, whatever it was meant to be
    return net.prefix === 0 ? 'anywhere' : net.prefix < (net.family === 4 ? 8 : 32) ? 'wide' : { address: net };
  } catch { /* not an address: perhaps a name */ }
  try {
    // hand-edited files sometimes give a name a prefix length: "-s pbx.example.net/32"
    return { host: validateHostname(text.replace(/\/(32|128)$/, '')) };
  } catch {
    return undefined;
  }
}

const KNOWN_MODULES = new Set(['tcp', 'udp', 'multiport', 'state', 'conntrack', 'comment']);

/** The meaning of the words after "-A INPUT" (or "iptables -A INPUT"). */
export function interpret(args: string[]): Meaning {
  let source: string | undefined;
  let proto: string | undefined;
  let ports: string | undefined;
  let state: string | undefined;
  let target: string | undefined;
  let comment: string | undefined;
  let iface: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (v === undefined && a !== '!') return { kind: 'unknown', why: `'${a}' has no value` };
    switch (a) {
      case '-s': case '--source': case '--src': source = v; break;
      // protocol 0 is iptables' own spelling of "all"
      case '-p': case '--protocol': proto = v.toLowerCase() === '0' ? 'all' : v.toLowerCase(); break;
      case '-m': case '--match': if (!KNOWN_MODULES.has(v)) return { kind: 'unknown', why: `match -m ${v}` }; break;
      case '--dport': case '--destination-port': case '--dports': case '--destination-ports': ports = v; break;
      case '--state': case '--ctstate': state = v; break;
      case '--comment': comment = v; break;
      case '-j': case '--jump': target = v; break;
      case '-i': case '--in-interface': iface = v; break;
      case '--reject-with': if (target !== 'REJECT') return { kind: 'unknown', why: '--reject-with without REJECT' }; break;
      default: return { kind: 'unknown', why: `option ${a}` };
    }
    i++;
  }
  if (target && /^(fail2ban|f2b)-/.test(target)) return { kind: 'fail2ban' };
  if (iface === 'lo' && target === 'ACCEPT' && !source && !proto) return { kind: 'base', why: 'loopback' };
  if (iface) return { kind: 'unknown', why: `interface -i ${iface}` };
  const states = state ? state.split(',') : [];
  if (target === 'ACCEPT' && states.length && states.every((s) => s === 'ESTABLISHED' || s === 'RELATED')) return { kind: 'base', why: 'established traffic' };
  if ((target === 'DROP' || target === 'REJECT') && !source && !proto && !ports) return { kind: 'base', why: states.join() === 'INVALID' ? 'invalid packets' : 'the final deny' };
  if (target !== 'ACCEPT') return { kind: 'unknown', why: `target ${target ?? '(none)'}` };
  // NEW with ESTABLISHED or RELATED: tm3 checks every packet of a flow against the whitelist, so
  // what the rule admitted is the whitelist entry; a list without NEW is not a whitelist line
  if (states.length && (!states.includes('NEW') || states.some((s) => !['NEW', 'ESTABLISHED', 'RELATED'].includes(s)))) return { kind: 'unknown', why: `state ${state}` };

  let scope: Scope = ALL;
  if (proto && proto !== 'all') {
    if (proto !== 'tcp' && proto !== 'udp') return { kind: 'unknown', why: `protocol ${proto}` };
    const ranges = ports ? parsePorts(proto as Proto, ports) : [{ proto: proto as Proto, from: 1, to: 65535 }];
    if (!ranges) return { kind: 'unknown', why: `ports ${ports}` };
    scope = normalize(ranges);
  } else if (ports) {
    return { kind: 'unknown', why: 'ports without a protocol' };
  }
  const src = source === undefined ? 'anywhere' : parseSource(source);
  if (src === undefined) return { kind: 'unknown', why: `source ${source}` };
  // neither "everyone" (an open port would open it to the other half too) nor an entry
  if (src === 'wide') return { kind: 'wide-open', what: `ports from ${source}, broader than a /8,` };
  if (src === 'anywhere') {
    if (scope === ALL) return { kind: 'wide-open', what: 'every port' };
    const whole = scope.find((r) => r.from === 1 && r.to === 65535);
    return whole ? { kind: 'wide-open', what: `every ${whole.proto} port` } : { kind: 'open', scope };
  }
  return { kind: 'whitelist', source: src, scope, comment };
}

/**
 * An ACCEPT that nothing bounds (no source, no port, not ICMP), or that only a forgeable source
 * port bounds, whatever else it matches: never carried over as a hand rule, since tm3's
 * failsafe would call the box open with it.
 */
export function unboundedAccept(args: string[]): boolean {
  const at = (names: string[]) => args.findIndex((a, i) => names.includes(a) && args[i - 1] !== '!');
  const j = at(['-j', '--jump']);
  if (j < 0 || args[j + 1] !== 'ACCEPT') return false;
  const s = at(['-s', '--source', '--src', '--src-range', '--mac-source']);
  if (s >= 0 && !boundedSource(args[s], args[s + 1] ?? '')) return true;
  if (s >= 0) return false;
  // "--sport 53 --dport 9999:65535": anyone can send from port 53, so the ports it opens are
  // open to everyone (the original's DNS-reply rule; tm3's reply rule answers DNS by conntrack)
  if (at(['--sport', '--sports', '--source-port', '--source-ports']) >= 0) return true;
  const d = at(['--dport', '--dports', '--destination-port', '--destination-ports']);
  // every port (0:65535, 1:65535) bounds nothing
  if (d >= 0) return (args[d + 1] ?? '').split(',').some((r) => { const [a, b] = r.split(':').map(Number); return a <= 1 && (b ?? a) >= 65535; });
  const p = at(['-p', '--protocol']);
  return !(p >= 0 && /^(icmp|ipv6-icmp|icmpv6|1|58)$/i.test(args[p + 1] ?? ''));
}

/** Does this source option narrow who is accepted: one host or network of /8 (IPv6 /32) or less? */
function boundedSource(option: string, value: string): boolean {
  if (option === '--mac-source') return true;
  const items = option === '--src-range' ? [value] : value.split(',');
  return items.every((item) => {
    if (option === '--src-range') {
      const [from, to] = item.split('-');
      try {
        const [a, b] = [ipaddr.parse(from).toByteArray(), ipaddr.parse(to).toByteArray()];
        if (a.length !== b.length) return false;
        // bytes that differ before the last /8 (/32) worth make it wider than that
        const keep = a.length === 4 ? 1 : 4;
        return a.slice(0, keep).every((x, i) => x === b[i]);
      } catch { return false; }
    }
    const src = parseSource(item);
    return src !== undefined && src !== 'anywhere' && src !== 'wide';
  });
}

/** The target word of a rule's arguments ("-j X" or "-g X"), not a word inside a comment. */
export function targetOf(args: string[]): { target?: string; goto: boolean } {
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === '--comment') { i++; continue; }
    if (args[i] === '-j' || args[i] === '--jump') return { target: args[i + 1], goto: false };
    if (args[i] === '-g' || args[i] === '--goto') return { target: args[i + 1], goto: true };
  }
  return { goto: false };
}

// the one-word spellings of iptables' table-changing commands: -P, -PINPUT, --policy=INPUT ...
const UNDO_WORD = /^(-[PFXDRZ]\S*|--(policy|flush|delete|delete-chain|replace|zero)(=\S*)?)$/;
const FIREWALL_TOOL = /(^|\/)(ip6?tables(-legacy|-nft)?|ebtables|arptables)$/;

/**
 * Would this shell line change or tear down the firewall (a policy, flush, delete, replace, a
 * restore, an nft or ipset flush), in any spelling, in any of its simple commands? Such a line
 * is never carried into the ADMIN SECTION, whatever else it does.
 */
export function undoes(line: string): boolean {
  return simpleCommands(line).some((w) => {
    const cmd = w[0] ?? '';
    if (FIREWALL_TOOL.test(cmd) || cmd.startsWith('$')) return w.slice(1).some((x) => UNDO_WORD.test(x));
    if (/(^|\/)(ip6?tables|iptables)-restore$/.test(cmd) || /(^|\/)netfilter-persistent$/.test(cmd)) return true;
    if (/(^|\/)nft$/.test(cmd)) return w.some((x) => /^(flush|delete|destroy|-f)$/.test(x));
    if (/(^|\/)ipset$/.test(cmd)) return w.some((x) => /^(flush|destroy|swap|del|-F|-X|-W|-D)$/.test(x));
    return false;
  });
}

// Words that run the command after them: "command iptables ...", "sudo env X=1 iptables ...",
// "xtables-nft-multi iptables ..." are iptables lines like any other.
const WRAPPERS = /^(command|builtin|exec|sudo|nice|nohup|time|env|(\S*\/)?xtables-(nft|legacy)-multi)$/;

/** The words of a simple command without the wrappers in front of the real program. */
export function unwrap(words: string[]): string[] {
  let i = 0;
  while (i < words.length && (WRAPPERS.test(words[i]) || (i > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i])) || (i > 0 && /^-/.test(words[i]) && WRAPPERS.test(words[i - 1])))) i++;
  return words.slice(i);
}

const OTHER_FIREWALL = /(^|\/)(nft|ufw|firewall-cmd|ebtables|arptables|shorewall|csf)$/;

/** Does any simple command of this line run another firewall tool than iptables (outside tm3's model and its checks)? */
export function otherFirewall(line: string): boolean {
  return simpleCommands(line).some((w) => OTHER_FIREWALL.test(w[0] ?? ''));
}

/** The words of each simple command of a shell line, quotes at their ends cut, wrappers unwrapped. */
function simpleCommands(line: string): string[][] {
  return line.split(/;|&&|\|\||\||\bthen\b|\bdo\b|\belse\b/).map((part) => unwrap(part.trim().split(/\s+/).filter(Boolean).map((x) => x.replace(/^["']|["']$/g, ''))));
}

/** An ACCEPT with a conntrack state match: tm3-failsafe calls it a hole (it undoes immediate revocation). */
export const STATE_ACCEPT_REFUSED = "not carried over: tm3's failsafe refuses an ACCEPT of established traffic (it would undo immediate revocation; tm3 accepts replies itself)";
export const acceptsByState = (args: string[]) => targetOf(args).target === 'ACCEPT' && args.some((a) => a === '--state' || a === '--ctstate');
