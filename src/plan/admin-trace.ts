// Which ADMIN SECTION line failed, and with what error. The boot runs iptables-custom as it is;
// tm3 restart runs its text (sh -c, $0 still the file) with a marker before each command
// (`__tm3_at $? LINE`), which reports the status of the command before it and hands that status
// on, so `$?` means what it did. Debian's dash has no $LINENO, so the markers carry the lines.
import { ADMIN_BEGIN, ADMIN_END } from './admin-section.js';

export interface AdminFailure { line: number; text: string; status: number; error: string }

/** 0-based indices of the admin body's lines in the script, or undefined when it has no section. */
export function adminBodyLines(script: string): { first: number; end: number } | undefined {
  const lines = script.split('\n');
  const first = lines.indexOf(ADMIN_BEGIN) + 1;
  const end = lines.indexOf(ADMIN_END, first);
  return first > 0 && end >= first ? { first, end } : undefined;
}

/**
 * Lines where a command may start: not blank or a comment, not after a backslash continuation,
 * not inside a here-document (`sh -n` takes an unfinished one as complete). Whether the lines
 * before form whole commands (not inside an if, a quote, a function) is sh -n's to say.
 */
export function candidateStarts(script: string): number[] {
  const body = adminBodyLines(script);
  if (!body) return [];
  const lines = script.split('\n');
  const out: number[] = [];
  let heredoc: { word: string; tabs: boolean } | undefined;
  let continued = false;
  for (let i = body.first; i < body.end; i++) {
    const l = lines[i];
    if (heredoc) {
      if ((heredoc.tabs ? l.replace(/^\t+/, '') : l) === heredoc.word) heredoc = undefined;
      continue;
    }
    if (!continued && l.trim() !== '' && !l.trim().startsWith('#')) out.push(i);
    continued = /(^|[^\\])(\\\\)*\\$/.test(l);
    const h = /<<(-?)\s*(['"]?)([A-Za-z0-9_]+)\2/.exec(l);
    if (h) heredoc = { word: h[3], tabs: h[1] === '-' };
  }
  return out;
}

/** The script with a marker before each command start and one after the section. */
export function instrument(script: string, starts: number[], token: string): string {
  const body = adminBodyLines(script)!;
  const lines = script.split('\n');
  const at = new Set(starts);
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (i === 0 && l.startsWith('#!')) { out.push(l); return; }
    if (i === body.first) out.push(markerFunction(token));
    if (at.has(i) || i === body.end) out.push(`__tm3_at $? ${i === body.end ? 0 : i + 1}`);
    out.push(l);
  });
  return out.join('\n');
}

// The status of the command before, reported when it failed, then handed on unchanged.
const markerFunction = (token: string) => `__tm3_at() { __tm3_s=$1; if [ "$__tm3_s" -ne 0 ] && [ -n "\${__tm3_l:-}" ]; then printf '\\n${token} fail %s %s\\n' "$__tm3_l" "$__tm3_s" >&2; fi; __tm3_l=$2; [ "$2" -eq 0 ] && __tm3_l=; printf '\\n${token} at %s\\n' "$2" >&2; return $__tm3_s; }`;

/** The failures the markers reported, each with its line's text and what it wrote to stderr. */
export function parseTrace(script: string, stderr: string, token: string): { failures: AdminFailure[]; output: string } {
  const lines = script.split('\n');
  const said = new Map<number, string[]>();
  const failures: AdminFailure[] = [];
  const rest: string[] = [];
  let current = 0;
  for (const l of stderr.split('\n')) {
    const at = new RegExp(`^${token} at (\\d+)$`).exec(l);
    const fail = new RegExp(`^${token} fail (\\d+) (\\d+)$`).exec(l);
    if (at) current = Number(at[1]);
    else if (fail) {
      const line = Number(fail[1]);
      failures.push({ line, text: (lines[line - 1] ?? '').trim(), status: Number(fail[2]), error: (said.get(line) ?? []).join('; ') || `exit status ${fail[2]}` });
    } else if (l.trim() !== '') {
      if (current) said.set(current, [...(said.get(current) ?? []), l.trim()]);
      rest.push(l);
    }
  }
  return { failures, output: rest.join('\n') };
}
