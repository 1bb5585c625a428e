// Words of iptables-save lines and of the legacy shell scripts, and the way back into shell.

/** Split a line into words; "double" and 'single' quotes group, as iptables-save and sh write them. */
export function words(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  let inWord = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = '';
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '#' && !inWord) {
      break; // sh's comment: the rest of the line is not a word
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) out.push(cur);
  return out;
}

// Words that need no quoting in sh; anything else is single-quoted.
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One shell word for a migrated rule, single-quoted unless plain (a quote inside becomes '\''),
 * so sh hands iptables exactly the word iptables-save wrote ("Bob's office"). A newline or a
 * control character is refused: such a rule is reported rather than pasted into a root script.
 */
export function shellWord(word: string): string | undefined {
  if (PLAIN.test(word)) return word;
  if (/[\x00-\x1f\x7f]/.test(word)) return undefined;
  return `'${word.replaceAll("'", "'\\''")}'`;
}
