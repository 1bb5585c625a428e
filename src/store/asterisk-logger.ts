import fs from 'node:fs';
import path from 'node:path';
import type { Paths } from './paths.js';

const MAX_INCLUDE_DEPTH = 4;

/** logger.conf's lines with its #include / #tryinclude files in place (FreePBX splits it up). */
function lines(file: string, depth = 0): string[] {
  let text: string;
  try {
    if (!fs.lstatSync(file).isFile()) return [];
    text = fs.readFileSync(file, 'utf8');
  } catch { return []; }
  return text.split('\n').flatMap((raw) => {
    const inc = /^\s*#(?:try)?include\s+"?([^"\s]+)"?/.exec(raw);
    if (!inc) return [raw.replace(/;.*$/, '').trim()];
    if (depth >= MAX_INCLUDE_DEPTH) return [];
    return lines(path.resolve(path.dirname(file), inc[1]), depth + 1);
  });
}

/**
 * The levels Asterisk's logger writes to LOGFILE (a server path such as /var/log/asterisk/full),
 * from /etc/asterisk/logger.conf; undefined when the logger does not name that file.
 */
export function asteriskLogLevels(paths: Paths, logFile: string): string[] | undefined {
  let section = '';
  let levels: string[] | undefined;
  for (const l of lines(paths.at('/etc/asterisk/logger.conf'))) {
    const s = /^\[([^\]]+)\]/.exec(l);
    if (s) { section = s[1].trim().toLowerCase(); continue; }
    const m = /^([^=\s]+)\s*=>?\s*(.*)$/.exec(l);
    if (section !== 'logfiles' || !m) continue;
    const name = m[1].startsWith('/') ? m[1] : path.posix.join('/var/log/asterisk', m[1]);
    if (path.posix.normalize(name) !== path.posix.normalize(logFile)) continue;
    // "[plain]notice,security" names a format first
    levels = m[2].replace(/^\[[^\]]*\]/, '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  }
  return levels;
}

/**
 * Does one failed attempt reach LOGFILE twice? With notice and security in the same file, Asterisk
 * writes a NOTICE line ("... failed for 'IP:port' ...") and its SecurityEvent twin for each one, and
 * Fail2Ban, which counts lines, would ban after half of maxretry attempts.
 */
export function asteriskLogsTwice(paths: Paths, logFile: string): boolean {
  const lv = asteriskLogLevels(paths, logFile) ?? [];
  const has = (x: string) => lv.includes(x) || lv.includes('*');
  return has('notice') && has('security');
}
