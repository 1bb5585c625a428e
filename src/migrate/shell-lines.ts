// The legacy scripts as sh reads them: one logical command per entry, with what sh would never
// run marked. Pure. Physical lines are joined where a backslash continues them or a quote is
// still open; a here-document's body stays with its command; lines after a top-level exit are
// dead; a carriage return (a script edited on Windows) reaches iptables as part of the last word.

export interface ShellLine {
  /** 1-based number of the first physical line */
  line: number;
  /** the physical lines, as written (what goes over to the ADMIN SECTION, if anything does) */
  raw: string;
  /** the logical command: continuations joined, for reading */
  text: string;
  /** why sh never ran it as a command of its own, if so */
  dead?: string;
  /** a here-document (command and body): the shell's business, never an entry */
  heredoc?: boolean;
  /** it holds a carriage return */
  cr?: boolean;
}

/** Is a quote still open at the end of `s` (given the state at its start)? */
function openQuote(s: string, start: '' | "'" | '"'): '' | "'" | '"' {
  let q = start;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q === "'") { if (c === "'") q = ''; continue; }
    if (c === '\\') { i++; continue; }
    if (q === '"') { if (c === '"') q = ''; continue; }
    if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) break; // the rest is a comment
    if (c === "'" || c === '"') q = c;
  }
  return q;
}

export function shellLines(text: string): ShellLine[] {
  const phys = text.split('\n');
  const out: ShellLine[] = [];
  let exitAt: number | undefined;
  let depth = 0;
  for (let i = 0; i < phys.length; i++) {
    const start = i;
    let raw = phys[i];
    let joined = raw.replace(/\r$/, '');
    let q = openQuote(joined, '');
    // a line ending in an odd number of backslashes continues; so does an open quote
    while (i + 1 < phys.length && (q !== '' || (/(^|[^\\])(\\\\)*\\$/.test(joined) && !joined.trim().startsWith('#')))) {
      i++;
      raw += `\n${phys[i]}`;
      const next = phys[i].replace(/\r$/, '');
      joined = q !== '' ? `${joined}\n${next}` : `${joined.slice(0, -1)}${next}`;
      q = openQuote(next, q);
    }
    const l: ShellLine = { line: start + 1, raw, text: joined.trim(), ...(raw.includes('\r') ? { cr: true } : {}) };
    // a here-document: the command and its body up to the terminator are one unit
    const here = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(joined);
    if (here && !joined.trim().startsWith('#')) {
      const strip = joined.includes('<<-');
      while (i + 1 < phys.length) {
        i++;
        l.raw += `\n${phys[i]}`;
        const body = phys[i].replace(/\r$/, '');
        if ((strip ? body.replace(/^\t+/, '') : body) === here[2]) break;
      }
      l.heredoc = true;
    }
    if (exitAt !== undefined) l.dead = `it comes after the exit at line ${exitAt}, so sh never ran it`;
    const t = l.text;
    if (/^(for|while|until|if|case)\b/.test(t) || /\{\s*$/.test(t)) depth++;
    if (/^(done|fi|esac|\})\b/.test(t) || /;\s*(done|fi|esac)\s*$/.test(t)) depth = Math.max(0, depth - 1);
    if (exitAt === undefined && depth === 0 && /^(exit|return)(\s+\S+)?\s*(;.*)?$/.test(t)) exitAt = l.line;
    out.push(l);
  }
  return out;
}
