/**
 * Set `key = value` in [section] of an INI text, changing nothing else: the admin's other keys,
 * comments and order stay as they wrote them. An active line is replaced; else the value goes
 * right under a commented-out `; key =` line, or at the top of the section; a missing section is
 * appended. Values are validated by the caller (an address, an interface name, a contact line).
 */
export function setIniValue(text: string, section: string, key: string, value: string): string {
  const lines = text.split('\n');
  const header = (l: string) => /^\s*\[([^\]]*)\]/.exec(l)?.[1]?.trim();
  const start = lines.findIndex((l) => header(l) === section);
  const line = `${key} = ${value}`;
  if (start < 0) {
    const body = text.endsWith('\n') || text === '' ? text : `${text}\n`;
    return `${body}\n[${section}]\n${line}\n`;
  }
  let end = lines.findIndex((l, i) => i > start && header(l) !== undefined);
  if (end < 0) end = lines.length;
  const keyRe = (prefix: string) => new RegExp(`^\\s*${prefix}\\s*${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*=`);
  // the last active line wins in INI, so that is the one to change (earlier ones go)
  const active = lines.map((l, i) => (i > start && i < end && keyRe('').test(l) ? i : -1)).filter((i) => i >= 0);
  if (active.length) {
    const last = active[active.length - 1];
    lines[last] = line;
    return lines.filter((_l, i) => !active.slice(0, -1).includes(i)).join('\n');
  }
  const commented = lines.findIndex((l, i) => i > start && i < end && keyRe('[;#]').test(l));
  lines.splice(commented >= 0 ? commented + 1 : start + 1, 0, line);
  return lines.join('\n');
}
