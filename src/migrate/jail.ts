// The legacy Fail2Ban jail.local: its timings, the Asterisk log, ignoreip, and the jails tm3 replaces.

export interface LegacyJails {
  settings: { bantime?: number; findtime?: number; maxretry?: number; asteriskLog?: string };
  ignoreip: string[];
  /** enabled jails that tm3's asterisk/sshd/recidive jails replace */
  replaced: string[];
  notes: string[];
}

/** configparser's shape: [section], key = value, indented continuation lines. */
function sections(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  let key = '';
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === '') continue;
    const head = /^\[(.+)\]\s*$/.exec(raw);
    if (head) { cur = {}; out.set(head[1].trim(), cur); continue; }
    if (cur && /^\s/.test(raw) && key) { cur[key] += ` ${raw.trim()}`; continue; }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
    if (cur && kv) { key = kv[1].trim().toLowerCase(); cur[key] = kv[2].trim(); }
  }
  return out;
}

const seconds = (v: string | undefined) => (v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : undefined);

export function readJailLocal(text: string): LegacyJails {
  const all = sections(text);
  const def = all.get('DEFAULT') ?? {};
  const notes: string[] = [];
  const settings: LegacyJails['settings'] = { bantime: seconds(def.bantime), findtime: seconds(def.findtime), maxretry: seconds(def.maxretry) };
  for (const k of ['bantime', 'findtime', 'maxretry'] as const) {
    if (def[k] !== undefined && settings[k] === undefined) notes.push(`[DEFAULT] ${k} = ${def[k]} not carried over: tm3 takes whole seconds`);
  }
  const replaced: string[] = [];
  for (const [name, keys] of all) {
    if (name === 'DEFAULT' || !/^(true|yes|1)$/i.test(keys.enabled ?? '')) continue;
    const what = `${name} ${keys.filter ?? ''}`.toLowerCase();
    if (/asterisk|sip|voip/.test(what)) {
      replaced.push(name);
      if (keys.logpath && /^\/[A-Za-z0-9._/+-]+$/.test(keys.logpath)) settings.asteriskLog = keys.logpath;
    } else if (/ssh|recidive/.test(what)) replaced.push(name);
    else notes.push(`jail [${name}] stays enabled as it is: tm3 has no jail for it`);
  }
  const ignoreip = (def.ignoreip ?? '').split(/[\s,]+/).filter(Boolean);
  return { settings, ignoreip, replaced, notes };
}
