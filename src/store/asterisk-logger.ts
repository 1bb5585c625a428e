import fs from 'node:fs';
import path from 'node:path';
import type { Paths } from './paths.js';

// Asterisk's own limit on nested #includes.
const MAX_INCLUDE_DEPTH = 10;
const MAX_FILE_BYTES = 1 << 20;

/**
 * An Asterisk config file's lines, comments gone (";" and ";-- block --;"), with its #include and
 * #tryinclude files in place as Asterisk reads them: relative names from /etc/asterisk, absolute
 * ones under the root. /etc/asterisk is often the asterisk user's to write, so tm3 (root) reads
 * only regular, non-empty files under 1 MiB that really lie in /etc/asterisk: an include of
 * /proc/kmsg (a read that never returns), a FIFO or /dev/zero reads as nothing. The worst a
 * strange file can do is leave the jail counting lines (see below).
 */
function lines(paths: Paths, file: string, depth = 0): string[] {
  let text: string;
  try {
    const etc = fs.realpathSync(paths.at('/etc/asterisk'));
    const real = fs.realpathSync(file);
    if (!real.startsWith(`${etc}/`)) return [];
    const st = fs.statSync(real);
    if (!st.isFile() || st.size === 0 || st.size > MAX_FILE_BYTES) return [];
    text = fs.readFileSync(real, 'utf8');
  } catch { return []; }
  text = text.replace(/;--[\s\S]*?--;/g, '');
  return text.split(/\r?\n/).flatMap((raw) => {
    const inc = /^\s*#(?:try)?include\s+["<]?([^">\s]+)[">]?/.exec(raw);
    if (!inc) return [raw.replace(/;.*$/, '').trim()];
    if (depth >= MAX_INCLUDE_DEPTH) return [];
    const target = inc[1].startsWith('/') ? paths.at(inc[1]) : path.join(paths.at('/etc/asterisk'), inc[1]);
    return lines(paths, target, depth + 1);
  });
}

/** astlogdir from asterisk.conf's [directories], /var/log/asterisk unless it says otherwise. */
function logDir(paths: Paths): string {
  let section = '';
  let dir = '/var/log/asterisk';
  for (const l of lines(paths, paths.at('/etc/asterisk/asterisk.conf'))) {
    const s = /^\[([^\]]+)\]/.exec(l);
    if (s) { section = s[1].trim().toLowerCase(); continue; }
    const m = /^astlogdir\s*=>?\s*(\/\S*)$/.exec(l);
    if (section === 'directories' && m) dir = m[1];
  }
  return dir;
}

/**
 * The levels Asterisk's logger writes to LOGFILE (a server path such as /var/log/asterisk/full),
 * from /etc/asterisk/logger.conf; undefined when the logger does not name that file.
 */
export function asteriskLogLevels(paths: Paths, logFile: string): string[] | undefined {
  const dir = logDir(paths);
  let section = '';
  let levels: string[] | undefined;
  for (const l of lines(paths, paths.at('/etc/asterisk/logger.conf'))) {
    const s = /^\[([^\]]+)\]/.exec(l);
    if (s) { section = s[1].trim().toLowerCase(); continue; }
    const m = /^([^=\s]+)\s*=>?\s*(.*)$/.exec(l);
    if (section !== 'logfiles' || !m) continue;
    const name = m[1].startsWith('/') ? m[1] : path.posix.join(dir, m[1]);
    if (path.posix.normalize(name) !== path.posix.normalize(logFile)) continue;
    // "[plain]notice,security" names a format first
    levels = m[2].replace(/^\[[^\]]*\]/, '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  }
  return levels;
}

/**
 * Does a failed attempt reach LOGFILE twice? With notice and security in the same file, Asterisk
 * writes a NOTICE line ("... failed for 'IP:port' ...") and a SecurityEvent twin for most kinds of
 * failure, and Fail2Ban, which counts lines, would ban after half of maxretry attempts. The jail
 * then counts 2 x maxretry - 1 lines instead; it never ignores a line, since some failures (a
 * chan_sip INVITE, res_pjsip's "after N tries") are only matched through their SecurityEvent.
 */
export function asteriskLogsTwice(paths: Paths, logFile: string): boolean {
  const lv = asteriskLogLevels(paths, logFile) ?? [];
  const has = (x: string) => lv.includes(x) || lv.includes('*');
  return has('notice') && has('security');
}
