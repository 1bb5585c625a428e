// The legacy /usr/local/sbin/iptables-custom (and /root/ipchecker): shell lines of
// "/sbin/iptables -A INPUT -s X ... -j ACCEPT" and the admin's other hand rules.
import path from 'node:path';
import { words } from './tokens.js';
import { interpret, unboundedAccept, undoes, targetOf, unwrap, otherFirewall, acceptsByState, STATE_ACCEPT_REFUSED } from './rule.js';
import { keepDeny, asAdmin, returns } from './denies.js';
import type { Family, Findings, Level } from './findings.js';
import { BLOCK_START, BLOCK_END } from './rules-file.js';
import { NAME_RE } from '../model/name.js';
import { shellLines } from './shell-lines.js';

const DISABLED = /^#\*{3}\s*(.*)$/;
const BINARIES: Record<string, Family> = { iptables: 4, ip6tables: 6 };
// NAME=value with nothing the shell would expand: the one kind of variable read here
const ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)=("[^"$`\\]*"|'[^']*'|[^\s"'$`\\;&|<>()]*)$/;

/** Read one legacy shell script into `into`; keepOtherLines: its hand rules and other lines are carried over. */
export function readCustomScript(text: string, file: string, into: Findings, opts: { keepOtherLines: boolean }): void {
  let depth = 0; // inside for/while/if/case or a { } body: lines stay with their block
  const vars = new Map<string, string>();
  let block: string | undefined;
  for (const sl of shellLines(text)) {
    const where = `${file}:${sl.line}`;
    const raw = sl.raw;
    const disabled = DISABLED.exec(sl.text);
    const line = disabled ? disabled[1] : sl.text;
    let m: RegExpExecArray | null;
    // the entry blocks of later originals (add-ip 2.2U, iptables-knock) name their lines here too
    if ((m = BLOCK_START.exec(line))) { block = NAME_RE.test(m[1]) ? m[1] : undefined; continue; }
    if (BLOCK_END.test(line)) { block = undefined; continue; }
    if (line === '' || (line.startsWith('#') && !disabled)) continue;
    const skip = (why: string) => { into.notes.push({ where, text: `not carried over (${why}): ${line.replace(/\s+/g, ' ').slice(0, 200)}`, level: 'unknown' }); };
    if (sl.dead) { skip(sl.dead); continue; }
    if (sl.cr) { skip('a carriage return: iptables got it as part of the last word and refused the line'); continue; }
    if (/^(exit|return)\b/.test(line)) {
      skip("an exit in the ADMIN SECTION would end tm3's own script early");
      // inside a loop or branch a no-op keeps the block's syntax
      if (depth > 0 && opts.keepOtherLines) into.hand.push({ kind: 'raw', text: raw.replace(/\b(exit|return)\b.*/, ': # $& (not carried by tm3 migrate)'), where });
      continue;
    }
    if (sl.heredoc) {
      if (opts.keepOtherLines) { into.hand.push({ kind: 'raw', text: raw, where }); into.notes.push({ where, text: `carried over as it is, with its here-document (no entry made from it): ${line.slice(0, 120)}`, level: 'kept' }); }
      continue;
    }
    forgetChanged(line, vars);
    const opens = /^(for|while|until|if|case)\b/.test(line) || /\{\s*$/.test(line);
    const closes = /^(done|fi|esac|\})\b/.test(line) || /;\s*(done|fi|esac)\s*$/.test(line);
    const inBlock = depth > 0 || opens;
    depth = Math.max(0, depth + (opens ? 1 : 0) - (closes ? 1 : 0));
    const assign = ASSIGN.exec(line);
    if (assign && !disabled) {
      // a value set inside a loop or branch is not one value: forget it
      if (inBlock) vars.delete(assign[1]); else vars.set(assign[1], assign[2].replace(/^(["'])(.*)\1$/, '$2'));
    } else {
      const other = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
      if (other) vars.delete(other[1]);
    }
    // "IPT=/sbin/iptables; $IPT -A ...": simple variables are read for what they hold
    const resolved = line.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, a: string, b: string) => vars.get(a ?? b) ?? all);
    // "2>/dev/null" and "|| true" after a command change nothing about the rule
    const command = resolved.replace(/(\s+(\|\|\s*true|[0-9]?>>?\s*\S+|[0-9]?>&[0-9]))+\s*$/, '');
    const raw0 = words(command);
    const w = raw0 ? unwrap(raw0) : undefined;
    const family = w?.length ? BINARIES[path.basename(w[0])] : undefined;
    if (opts.keepOtherLines && otherFirewall(line)) {
      into.notes.push({ where, text: `not carried over (another firewall tool: what it does is outside tm3's rules and its checks; redo it with iptables in the ADMIN SECTION if it is still needed): ${line}`, level: 'unknown' });
      continue;
    }
    if (opts.keepOtherLines && (undoes(command) || undoes(line))) {
      into.notes.push({ where, text: `not carried over (it would flush, delete or change policy): ${line}`, level: 'unknown' });
      continue;
    }
    // A variable, a substitution or a compound command is the shell's business: the line goes
    // over as it is, in its place, so loops and assignments keep working.
    const dynamic = inBlock || /[$`\\;&|<>]/.test(command);
    if (assign && !inBlock && !disabled && opts.keepOtherLines) {
      into.hand.push({ kind: 'raw', text: raw, where });
      into.notes.push({ where, text: `carried over as it is (a shell variable, read for the lines below): ${line}`, level: 'kept' });
      continue;
    }
    if (!w || family === undefined || dynamic) {
      if (disabled || !opts.keepOtherLines) {
        if (family !== undefined) into.notes.push({ where, text: `not carried over (shell variables or a shell block in an iptables line): ${line}`, level: 'unknown' });
        continue;
      }
      into.hand.push({ kind: 'raw', text: raw, where });
      if (family !== undefined) into.notes.push({ where, text: `carried over as it is, no entry made (shell variables or a shell block; check it): ${line}`, level: 'unknown' });
      else into.notes.push({ where, text: `carried over as it is (not an iptables command): ${line}`, level: 'kept' });
      continue;
    }
    if (disabled) {
      // the legacy box refused it (its name did not resolve): so does tm3, and says so
      into.notes.push({ where, text: `disabled (#***) on the legacy box, so not whitelisted; if it is still wanted, tm3 add-ip or add-fqdn it: ${line}`, level: 'unknown' });
      continue;
    }
    readCommand(w.slice(1), family, where, line, into, opts.keepOtherLines, block);
  }
}

/**
 * A variable this line may change in ways ASSIGN does not read (export, read, for, unset, a
 * sourced file): forgotten, so a later $NAME is not taken for a value it no longer has.
 */
function forgetChanged(line: string, vars: Map<string, string>): void {
  if (/^(\.|source|eval)\s/.test(line)) { vars.clear(); return; }
  const m = /^(?:export|readonly|local|declare|typeset|unset|read(?:\s+-\S+)*)\s+(.*)$/.exec(line) ?? /^for\s+([A-Za-z_][A-Za-z0-9_]*)\s/.exec(line);
  if (!m) return;
  for (const w of m[1].split(/\s+/)) {
    const name = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(w)?.[1];
    if (name) vars.delete(name);
  }
}

function readCommand(args: string[], family: Family, where: string, line: string, into: Findings, hand: boolean, block?: string): void {
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
  const input = table === 'filter' && chain === 'INPUT';
  if (input) {
    const deny = into.finalDeny[family];
    if (insert && insert !== '1') {
      // where "-I INPUT N" put it: past the end it failed, past the final deny it never matched
      if (Number(insert) > into.inputCount[family] + 1) return note(`not carried over: "-I INPUT ${insert}" failed on the legacy box (index too big for the ${into.inputCount[family]} rules loaded): ${line}`, 'unknown');
      const pos = into.finalDenyPos[family];
      if (pos !== undefined && Number(insert) > pos) return note(`never matched on the legacy box ("-I INPUT ${insert}" lands behind the final deny at ${deny}): not carried over: ${line}`);
    }
    // Appended behind a final DROP or REJECT: it never matched on the legacy box.
    if (!insert && deny) return note(`never matched on the legacy box (appended after the final deny at ${deny}): not carried over: ${line}`);
    into.inputCount[family]++;
    const meaning = interpret(more);
    if (meaning.kind === 'whitelist') {
      if ('address' in meaning.source && meaning.source.address.family !== family) return note(`an IPv${meaning.source.address.family} address given to ${family === 4 ? 'iptables' : 'ip6tables'}: it failed on the legacy box, so it is not migrated: ${line}`, 'unknown');
      into.sightings.push({ source: meaning.source, scope: meaning.scope, where, family, ...(block ? { kind: 'block', name: block } : { kind: 'custom' }) });
      const accepted = { source: meaning.source, scope: meaning.scope, where };
      // inserted at the top, it beat every deny the rules file loaded: a RETURN at the top of TM3-ADMIN
      if (insert === '1') { if (hand) for (const r of returns(accepted)) into.hand.push({ kind: 'rule', family, table, chain, args: r, where, admin: 'first' }); } else into.accepted[family].push(accepted);
      return;
    }
    if (meaning.kind === 'base' && meaning.why === 'the final deny' && !insert) {
      // the script's own final deny: what it appends later never matched
      into.finalDeny[family] = where;
      into.finalDenyPos[family] = into.inputCount[family];
      return note(`dropped, tm3 does this itself (its policy is DROP); the lines after it never matched: ${line}`);
    }
    if (meaning.kind === 'base' || meaning.kind === 'fail2ban') return note(`dropped, tm3 does this itself: ${line}`);
    if (meaning.kind === 'wide-open') return note(`not carried over: it opens ${meaning.what} to everyone, and tm3 denies by default: ${line}`, 'unknown');
    if (meaning.kind === 'open' && !insert) into.accepted[family].push({ scope: meaning.scope, where });
  }
  if (!hand) return note(`not carried over (ipchecker only refreshes names): ${line}`, 'unknown');
  if (unboundedAccept(more)) return note(`not carried over: it accepts from anyone on any port, and tm3 denies by default: ${line}`, 'unknown');
  const accept = targetOf(more).target === 'ACCEPT';
  if (acceptsByState(more)) return note(`${STATE_ACCEPT_REFUSED}: ${line}`, 'unknown');
  if (input && !accept) {
    // a deny: TM3-ADMIN, ahead of tm3's accepts; at the top if "-I INPUT 1" put it there
    if (insert === '1') for (const r of asAdmin(more)) into.hand.push({ kind: 'rule', family, table, chain, args: r, where, admin: 'first' });
    else keepDeny(into, family, table, chain, more, where, note);
    return note(`kept as a hand rule, ahead of the whitelist (TM3-ADMIN): ${line}`, 'kept');
  }
  // "-I INPUT" put it ahead of the legacy rules: in tm3 that is TM3-ADMIN, after tm3's base rules
  const admin: 'first' | 'append' | undefined = input && insert ? (insert === '1' ? 'first' : 'append') : undefined;
  if (admin && insert !== '1') note(`"-I INPUT ${insert}" becomes the end of TM3-ADMIN (ahead of tm3's accepts): ${line}`);
  into.hand.push({ kind: 'rule', family, table, chain, args: more, where, ...(admin ? { admin } : {}) });
  note(`kept as a hand rule: ${line}`, 'kept');
}
