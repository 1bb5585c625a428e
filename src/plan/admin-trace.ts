// Which ADMIN SECTION line failed, and with what error. tm3 restart runs iptables-custom exactly
// as the boot does (the file itself, under sh), only with `-x`: dash then writes each command it
// runs to stderr behind PS4, a random token. An error line after a traced command is that
// command's. No marker is ever written into the admin's text: a here-doc, `set -e`, a NUL byte or
// a very long section runs as the boot runs it. Debian's dash has no $LINENO and no ERR trap, so
// the line is found by matching the command as run against the section's lines, and a command
// that fails without a word on stderr (`false`) is not reported; iptables, ip6tables and ipset
// always say why they failed.
import { ADMIN_BEGIN, ADMIN_END } from './admin-section.js';

/** line: 1-based line in iptables-custom, when the command could be matched to one */
export interface AdminFailure { line?: number; text: string; error: string }

/** The traced no-op the template runs just before the ADMIN SECTION (the trace's boundary). */
export const ADMIN_TRACE_MARK = ': tm3 admin section follows';

/** 0-based indices of the admin body's lines in the script, or undefined when it has no section. */
export function adminBodyLines(script: string): { first: number; end: number } | undefined {
  const lines = script.split('\n');
  const first = lines.indexOf(ADMIN_BEGIN) + 1;
  const end = lines.indexOf(ADMIN_END, first);
  return first > 0 && end >= first ? { first, end } : undefined;
}

const KEYWORDS = /^(?:if|then|else|elif|do|while|until|!|\{|\(|\}|\))\s+/;
const REDIRECT = /\s*\d*(?:>>|<<-?|>&|<&|>\||[<>])\s*\S+/g;
const unquote = (s: string) => s.replace(/["']/g, '');

/** A section line as a list of patterns, one per simple command on it, that a traced command matches. */
function linePatterns(line: string): RegExp[] {
  if (/^\s*(#|$)/.test(line)) return [];
  return unquote(line).split(/&&|\|\||;|\|/).map((seg) => {
    let s = seg.replace(REDIRECT, '').trim();
    for (let k = 0; k < 4 && KEYWORDS.test(`${s} `); k++) s = `${s} `.replace(KEYWORDS, '').trim();
    return s;
  }).filter((s) => s && !/^(?:fi|done|esac|then|else|do)$/.test(s)).map((s) => {
    const parts = s.split(/(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)/).map((p, i) => (i % 2 ? '.*?' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+')));
    return new RegExp(`^${parts.join('')}$`);
  });
}

/**
 * The section line a traced command came from: the first match after the last one (commands
 * mostly run in order, so this is one step each), else the first anywhere (a loop, a function).
 */
function lineFinder(lines: string[], body: { first: number; end: number }) {
  const patterns = new Map<number, RegExp[]>();
  const matches = (i: number, cmd: string) => {
    if (!patterns.has(i)) patterns.set(i, linePatterns(lines[i]));
    return patterns.get(i)!.some((re) => re.test(cmd));
  };
  return (command: string, after: number): number | undefined => {
    const cmd = unquote(command).trim();
    for (let i = Math.max(after, body.first); i < body.end; i++) if (matches(i, cmd)) return i + 1;
    for (let i = body.first; i < Math.min(after, body.end); i++) if (matches(i, cmd)) return i + 1;
    return undefined;
  };
}

const WARNING = /^#?\s*warning:/i;

/** The failures in a `sh -x` run's stderr (PS4 = token + space), and the output without the trace. */
export function parseTrace(script: string, stderr: string, token: string): { failures: AdminFailure[]; output: string } {
  const lines = script.split('\n');
  const body = adminBodyLines(script);
  const failures: AdminFailure[] = [];
  const rest: string[] = [];
  const prefix = `${token} `;
  let inAdmin = false;
  let current: AdminFailure | undefined;
  let last = 0;
  const lineOf = body ? lineFinder(lines, body) : () => undefined;
  for (const l of stderr.split('\n')) {
    if (l.startsWith(prefix)) {
      const cmd = l.slice(prefix.length);
      if (cmd.trim() === ADMIN_TRACE_MARK.trim()) { inAdmin = true; continue; }
      if (!inAdmin || !body) continue;
      const line = lineOf(cmd, last);
      if (line) last = line;
      current = { line, text: line ? lines[line - 1].trim() : cmd.trim(), error: '' };
      continue;
    }
    if (l.trim() === '') continue;
    rest.push(l);
    if (inAdmin && current && !WARNING.test(l.trim())) {
      if (!current.error) failures.push(current);
      current.error = current.error ? `${current.error}; ${l.trim()}` : l.trim();
    }
  }
  return { failures, output: rest.join('\n') };
}
