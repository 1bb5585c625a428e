// The legacy /usr/local/sbin/iptables-custom (and /root/ipchecker): shell lines of
// "/sbin/iptables -A INPUT -s X ... -j ACCEPT" and the admin's other hand rules.
import path from 'node:path';
import { words } from './tokens.js';
import { interpret } from './rule.js';
import type { Family, Findings, Level } from './findings.js';

const DISABLED = /^#\*{3}\s*(.*)$/;
const BINARIES: Record<string, Family> = { iptables: 4, ip6tables: 6 };

/** Read one legacy shell script into `into`; keepOtherLines: its hand rules and other lines are carried over. */
export function readCustomScript(text: string, file: string, into: Findings, opts: { keepOtherLines: boolean }): void {
  let depth = 0; // inside for/while/if/case or a { } body: lines stay with their block
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const disabled = DISABLED.exec(raw.trim());
    const line = disabled ? disabled[1] : raw.trim();
    if (line === '' || (line.startsWith('#') && !disabled)) return;
    const opens = /^(for|while|until|if|case)\b/.test(line) || /\{\s*$/.test(line);
    const closes = /^(done|fi|esac|\})\b/.test(line) || /;\s*(done|fi|esac)\s*$/.test(line);
    const inBlock = depth > 0 || opens;
    depth = Math.max(0, depth + (opens ? 1 : 0) - (closes ? 1 : 0));
    // "2>/dev/null" and "|| true" after a command change nothing about the rule
    const command = line.replace(/(\s+(\|\|\s*true|[0-9]?>>?\s*\S+|[0-9]?>&[0-9]))+\s*$/, '');
    const w = words(command);
    const family = w?.length ? BINARIES[path.basename(w[0])] : undefined;
    // A variable, a substitution or a compound command is the shell's business: the line goes
    // over as it is, in its place, so loops and assignments keep working.
    const dynamic = inBlock || /[$`\\;&|<>]/.test(command);
    if (!w || family === undefined || dynamic) {
      if (disabled || !opts.keepOtherLines) {
        if (family !== undefined) into.notes.push({ where, text: `not carried over (shell variables or a shell block in an iptables line): ${line}`, level: 'unknown' });
        return;
      }
      into.hand.push({ kind: 'raw', text: raw, where });
      if (family !== undefined) into.notes.push({ where, text: `carried over as it is, no entry made (shell variables or a shell block; check it): ${line}`, level: 'unknown' });
      else into.notes.push({ where, text: `carried over as it is (not an iptables command): ${line}`, level: 'kept' });
      return;
    }
    if (disabled) into.notes.push({ where, text: 'this line was disabled (#***) by the old iptables-restart; it is an entry again', level: 'note' });
    readCommand(w.slice(1), family, where, line, into, opts.keepOtherLines);
  });
}

function readCommand(args: string[], family: Family, where: string, line: string, into: Findings, hand: boolean): void {
  const note = (text: string, level: Level = 'note') => { into.notes.push({ where, text, level }); };
  let table = 'filter';
  const rest = [...args];
  const t = rest.findIndex((a) => a === '-t' || a === '--table');
  if (t >= 0) { table = rest[t + 1] ?? ''; rest.splice(t, 2); }
  rest.splice(0, rest.length, ...rest.filter((a) => a !== '-w' && a !== '--wait'));
  const [op, chain, ...more] = rest;
  if (op === '-N' || op === '--new-chain') {
    into.chains.push({ family, table, chain });
    return;
  }
  // ipchecker's own -D/-A dance around its names is not a hand rule
  if (!hand && !(['-A', '--append', '-I', '--insert'].includes(op) && table === 'filter' && chain === 'INPUT')) return;
  if (!['-A', '--append', '-I', '--insert'].includes(op) || !chain) {
    // -F, -X, -P, -D ...: these would undo tm3's rules or open the firewall; never carried over.
    return note(`not carried over (it would flush, delete or change policy): ${line}`, 'unknown');
  }
  const insert = op === '-I' || op === '--insert' ? (/^[0-9]+$/.test(more[0] ?? '') ? more.shift()! : '1') : undefined;
  if (table === 'filter' && chain === 'INPUT') {
    const meaning = interpret(more);
    if (meaning.kind === 'whitelist') {
      into.sightings.push({ source: meaning.source, scope: meaning.scope, kind: 'custom', where });
      return;
    }
    if (meaning.kind === 'base' || meaning.kind === 'fail2ban') return note(`dropped, tm3 does this itself: ${line}`);
    if (meaning.kind === 'wide-open') return note(`not carried over: it opens ${meaning.what} to everyone, and tm3 denies by default: ${line}`, 'unknown');
  }
  if (!hand) return note(`not carried over (ipchecker only refreshes names): ${line}`, 'unknown');
  into.hand.push({ kind: 'rule', family, table, chain, args: more, insert, where });
  note(`kept as a hand rule: ${line}`, 'kept');
}
