import { asteriskLogsTwice } from '../store/asterisk-logger.js';
import fs from 'node:fs';
import { planFiles } from '../plan/files.js';
import { planSets } from '../plan/sets.js';
import { readText } from '../store/files.js';
import { hasSystemd } from '../apply/system.js';
import { fail2banRunning, fail2banInstalled } from '../apply/fail2ban.js';
import { tm3Command } from '../tm3-command.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';
import { knockInputs } from './knock.js';
import { knockdRunning } from '../apply/knockd.js';
import { status } from './status.js';
import { closingProblems } from './closed.js';

// What to tell the admin for each generated file that drifted.
const FILE_FIX: Record<string, string> = {
  'rules.v4': 'an iptables-save over it? tm3 restart backs it up and restores it',
  'rules.v6': 'an ip6tables-save over it? tm3 restart backs it up and restores it',
  ipsets: 'the saved sets are stale; tm3 restart rewrites them',
};

/** Everything that weakens the firewall, one line each. An empty list means healthy. */
export async function doctor(ctx: Ctx): Promise<string[]> {
  const state = await loadState(ctx);
  const problems: string[] = [];
  const sets = planSets(ctx.config, state.entries, state.cache);
  const existingCustom = await readText(ctx.paths.custom);
  const knock = await knockInputs(ctx, true);
  const banExempt = ctx.config.fail2ban.enabled ? await (await import('./fail2ban.js')).banExempt(ctx, state) : [];
  for (const f of planFiles(ctx.config, ctx.paths, sets, { existingCustom, tm3: tm3Command(ctx.paths.root), knock, systemd: hasSystemd(ctx.paths.root), banExempt, asteriskTwins: asteriskLogsTwice(ctx.paths, ctx.config.fail2ban.asteriskLog) })) {
    const have = await readText(f.path);
    const name = f.path.split('/').pop()!;
    const where = ctx.paths.inServer(f.path);
    if (have === undefined) problems.push(`${where} is missing (tm3 restart writes it)`);
    else if (have !== f.text) problems.push(`${where} differs from what tm3 renders (${FILE_FIX[name] ?? 'tm3 restart rewrites it'})`);
  }
  // The failsafe's check covers policies and tm3's rules, naming an ADMIN SECTION culprit when
  // there is one (restarting alone would only run that line again); status adds the sets.
  const closing = await closingProblems(ctx);
  problems.push(...closing);
  const kernelProblems = (await status(ctx, state)).problems.filter((p) => !closing.length || p.startsWith('set '));
  problems.push(...kernelProblems.map((p) => `${p} (tm3 restart fixes it)`));

  // allowed on purpose (allow_wide = true), still worth a line every time the admin asks
  const { wideValues } = await import('../store/wide.js');
  for (const w of wideValues(ctx.config.firewall.open, ctx.config.firewall.trusted, ctx.config.catalog)) problems.push(`[${w.section}] ${w.what} (allowed by allow_wide; narrow it if you can)`);

  // rpfilter only protects a trusted network that comes in on its own interface
  const { routesTo } = await import('../apply/routes.js');
  const { forgeable } = await import('../plan/spoofing.js');
  const { spoofable } = await import('../plan/rules.js');
  for (const cidr of [...spoofable(ctx.config, 4), ...spoofable(ctx.config, 6)]) {
    const why = forgeable(cidr, await routesTo(cidr.split('/')[0]));
    if (why) problems.push(why);
  }

  const maxAgeMs = ctx.config.dns.maxAgeMinutes * 60_000;
  for (const e of state.entries) {
    if (!e.host) continue;
    const okAt = state.cache[e.host]?.okAt;
    if (!okAt) problems.push(`${e.name}: ${e.host} has never resolved (check the name and [dns] servers, then tm3 refresh)`);
    else if (Date.now() - Date.parse(okAt) > maxAgeMs) problems.push(`${e.name}: ${e.host} last resolved ${okAt}, over [dns] max_age_minutes ago (check DNS, then tm3 refresh)`);
  }

  if (ctx.config.fail2ban.enabled && !(await fail2banInstalled())) {
    problems.push('fail2ban is enabled but not installed (apt-get install fail2ban, or set [fail2ban] enabled = false)');
  } else if (ctx.config.fail2ban.enabled && !(await fail2banRunning(ctx.paths))) {
    problems.push('fail2ban is enabled but not running (start it, or set [fail2ban] enabled = false)');
  }
  if (knock && !(await knockdRunning(ctx.paths))) {
    // knockd cannot start on a NIC that is not there; the if-up hook starts it when the link comes up
    problems.push(fs.existsSync(`/sys/class/net/${knock.interface}`)
      ? 'knockd is enabled but not running (tm3 restart starts it, or set [knock] enabled = false)'
      : `knockd is enabled but its interface ${knock.interface} does not exist (it starts when that link comes up; or set [knock] interface)`);
  }
  return problems;
}
