// The original's own tools keep rewriting the firewall after a migration unless they are
// switched off: cron lines that run ipchecker or iptables-restart, rc.local lines that run
// iptables-restart at boot, and copies of the commands outside /root (which tm3's wrappers
// replace). Pure: text in, text and report lines out; ops/migrate.ts backs up and writes.

/** The original's command names: a copy anywhere tm3 does not put its wrappers is replaced by one. */
export const LEGACY_TOOLS = ['add-ip', 'add-fqdn', 'del-acct', 'iptables-knock', 'ipchecker', 'iptables-restart'];
const RUNS_LEGACY = /(^|[\s/;&|])(ipchecker|iptables-restart)(\s|;|&|\||$)/;
export const DISABLED_MARK = '# disabled by tm3 migrate: ';

/**
 * Comment out each active line that runs ipchecker or iptables-restart. `why` ends the report
 * line (what does that job now). Undefined when nothing changes.
 */
export function disableLines(text: string, file: string, why: string): { text: string; report: string[] } | undefined {
  const report: string[] = [];
  const lines = text.split('\n').map((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#') || !RUNS_LEGACY.test(t)) return line;
    report.push(`disabled: ${file}:${i + 1}: ${t} (${why}; tm3 migrate --rollback puts it back)`);
    return `${DISABLED_MARK}${line}`;
  });
  return report.length ? { text: lines.join('\n'), report } : undefined;
}
