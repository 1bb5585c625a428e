// The admin's own part of iptables-custom: kept byte for byte across every render.
export const ADMIN_BEGIN = '# >>> ADMIN SECTION: your own rules. tm3 keeps everything between these two lines byte for byte. >>>';
export const ADMIN_END = '# <<< END ADMIN SECTION <<<';
export const ADMIN_PLACEHOLDER = '@@TM3_ADMIN_SECTION@@';

export const DEFAULT_ADMIN_BODY = `# Rules here run after the whitelist is in place; a failing line fails alone.
# Example (the original's way), opening a port to one more network:
#   /sbin/iptables -A INPUT -s 198.51.100.0/24 -p tcp --dport 8443 -j ACCEPT
`;

/** The admin body of an existing script, or undefined when it has no markers. */
export function extractAdminBody(script: string | undefined): string | undefined {
  if (script === undefined) return undefined;
  const start = script.indexOf(`${ADMIN_BEGIN}\n`);
  const end = script.indexOf(`${ADMIN_END}`, start + 1);
  if (start < 0 || end < 0) return undefined;
  return script.slice(start + ADMIN_BEGIN.length + 1, end);
}

export function spliceAdminBody(rendered: string, body: string): string {
  const block = `${ADMIN_BEGIN}\n${body}${ADMIN_END}`;
  // a function replacement, so '$' in the admin's text is never treated as a pattern
  return rendered.replace(ADMIN_PLACEHOLDER, () => block);
}
