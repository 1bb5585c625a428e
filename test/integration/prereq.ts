// Integration tests need root and the real tools. In CI a missing prerequisite fails the run;
// on a developer machine the suite skips, loudly.
import { execaSync } from 'execa';
import type { Context } from 'mocha';

const TOOLS = ['ip', 'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore', 'ipset', 'dnsmasq', 'ss', 'sysctl'];

export function missingPrereqs(extra: string[] = []): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const t of [...TOOLS, ...extra]) {
    try { execaSync('sh', ['-c', `command -v ${t}`]); } catch { missing.push(t); }
  }
  return missing;
}

/** Call from a before() hook with `this`. */
export function requireLab(ctx: Context, extra: string[] = []): void {
  const missing = missingPrereqs(extra);
  if (missing.length === 0) return;
  const msg = `integration prerequisites missing: ${missing.join(', ')} (run as root after: apt-get install iptables ipset dnsmasq-base iproute2 knockd fail2ban)`;
  if (process.env.CI === 'true') throw new Error(`${msg}; CI=true, so this is a failure`);
  console.warn(`\n  !!!!!!!! SKIPPING INTEGRATION TESTS !!!!!!!!\n  !!! ${msg}\n`);
  ctx.skip();
}
