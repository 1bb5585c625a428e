import { decode } from 'ini';

// The exact shape tm3 itself writes: comments, blank lines, one [entry] header and key=value
// lines whose values hold no quote, comment or escape character. For that shape this gives
// what ini.decode gives (test/unit/entry-decode.test.ts checks it against ini on generated
// text) at a fraction of the cost, which counts at 20,000 files. Anything else goes to ini.
const PLAIN_LINE = /^(?:\s*[#;].*|\s*|\[entry\]|([a-z]+)=([A-Za-z0-9:.,/_+ -]*))$/;

/** An entry file's text as ini.decode would return it. */
export function decodeEntryText(body: string): Record<string, unknown> {
  const fields: Record<string, string> = Object.create(null);
  let inEntry = false;
  for (const line of body.split(/[\r\n]+/)) {
    const m = PLAIN_LINE.exec(line);
    if (!m) return decode(body);
    if (line === '[entry]') {
      if (inEntry) return decode(body);
      inEntry = true;
      continue;
    }
    if (m[1] === undefined) continue; // a comment or a blank line
    const value = m[2].trim();
    // keys outside [entry], and values ini turns into booleans or null: ini's business
    if (!inEntry || value === 'true' || value === 'false' || value === 'null') return decode(body);
    fields[m[1]] = value;
  }
  return inEntry ? { entry: fields } : decode(body);
}
