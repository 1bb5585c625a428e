import ipaddr from 'ipaddr.js';
import { run } from '../apply/run.js';
import { readTm3Sets } from '../apply/ipset.js';
import { syslog } from '../apply/system.js';
import { cutOff, type Access, type Admin, type Cut } from '../plan/reach.js';
import { entryAddresses, isGrantUnion, KNOCK_SET_RE, type SetPlan } from '../plan/sets.js';
import { rulesText } from '../plan/files.js';
import { MARK } from '../plan/rules.js';
import { InputError, Tm3Error } from '../model/errors.js';
import { netContains, type Family } from '../model/address.js';
import type { Ctx } from '../cli/context.js';
import type { State } from './state.js';

// No lockout (ARCHITECTURE.md, invariant 8): before a change an admin typed reaches the kernel,
// tm3 asks whether every address with an SSH session here would still reach its SSH port.
// Changes nobody typed (the refresh timer, if-up hooks, a grant's expiry) never ask.

export interface GuardOptions { force?: boolean; confirmSeconds?: number }

/**
 * SSH ports: 22 and the tcp ports of the catalog's ssh service. 22 always counts, so a config
 * that moves the ssh service away from the port the admin is on still sees that session.
 */
function sshPorts(ctx: Ctx): number[] {
  const ranges = (ctx.config.catalog.get('ssh') ?? []).filter((r) => r.proto === 'tcp' && r.to - r.from < 64);
  return [...new Set([22, ...ranges.flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i))])];
}

const hostPort = (text: string) => {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(text);
  if (!m) return undefined;
  try { return { address: ipaddr.process(m[1].replace(/%.*$/, '')).toString(), port: Number(m[2]) }; } catch { return undefined; }
};

/** The admin's address from SSH_CONNECTION, and the peer of every established inbound SSH session. */
export async function findAdmins(ctx: Ctx): Promise<Admin[]> {
  const admins: Admin[] = [];
  const ports = sshPorts(ctx);
  const env = (process.env.SSH_CONNECTION ?? '').trim().split(/\s+/);
  if (env.length === 4) {
    try { admins.push({ address: ipaddr.process(env[0]).toString(), port: Number(env[3]) || ports[0] }); } catch { /* not an address: nobody to guard */ }
  }
  const { stdout } = await run('ss', ['-Htn', 'state', 'established'], { allowFail: true });
  for (const line of stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const [local, peer] = [hostPort(cols.at(-2) ?? ''), hostPort(cols.at(-1) ?? '')];
    if (local && peer && ports.includes(local.port) && !ipaddr.process(peer.address).range().startsWith('loopback')) admins.push({ address: peer.address, port: local.port });
  }
  const seen = new Set<string>();
  return admins.filter((a) => !seen.has(`${a.address} ${a.port}`) && seen.add(`${a.address} ${a.port}`));
}

/** What the kernel enforces now: tm3's rule shapes from iptables -S, and every tm3 set. */
export async function kernelAccess(): Promise<Access[]> {
  const sets = await readTm3Sets();
  const out: Access[] = [];
  for (const family of [4, 6] as Family[]) {
    const { stdout } = await run(family === 4 ? 'iptables' : 'ip6tables', ['-w', '5', '-S'], { allowFail: true });
    out.push({ family, lines: stdout.split('\n'), sets });
  }
  return out;
}

/** The kernel's rules with the planned sets (timed sets as the kernel holds them). */
export function withSets(kernel: Access[], sets: SetPlan[]): Access[] {
  return kernel.map((k) => {
    const merged = new Map(k.sets);
    for (const s of sets) if (!s.timed) merged.set(s.name, s.members);
    // restart fills the grant union with every live grant before its rules load (fillGrantUnion)
    for (const s of sets.filter((x) => isGrantUnion(x.name))) {
      const granted = [...k.sets].filter(([n]) => KNOCK_SET_RE.test(n) && n.endsWith(`-${s.family}`)).flatMap(([, m]) => m);
      merged.set(s.name, [...new Set([...(k.sets.get(s.name) ?? []), ...granted])]);
    }
    return { ...k, sets: merged };
  });
}

/**
 * What tm3 restart would enforce: the planned rules.v4/v6 and sets, plus every kernel rule that
 * tm3 did not write (no "tm3" comment): iptables-custom runs the ADMIN SECTION again, so an
 * admin's own `-A INPUT -s HOST -j ACCEPT` still stands afterwards.
 */
export function plannedAccess(ctx: Ctx, kernel: Access[], sets: SetPlan[], adminBody: string): Access[] {
  // A rule typed by hand outside the ADMIN SECTION is gone after the restart: only one whose
  // source the ADMIN SECTION names is taken to come back (a plain reading, not a shell run).
  const comesBack = (l: string) => {
    const src = /(?:^| )-s (\S+?)(?:\/(?:32|128))?(?: |$)/.exec(l)?.[1];
    return src === undefined || adminBody.includes(src);
  };
  return withSets(kernel, sets).map((k) => {
    const theirs = k.lines.filter((l) => l.startsWith('-A ') && !l.includes(` ${MARK} `) && comesBack(l));
    return { ...k, lines: [...rulesText(ctx.config, k.family).split('\n'), ...theirs] };
  });
}

/** "entry admin", "[firewall] trusted 192.0.2.0/24", "a live knock grant": what gave the access. */
function explain(reason: string, address: string, state?: State): string {
  const set = /^set tm3-(.+)-[46]$/.exec(reason)?.[1];
  if (set === 'knock' || set?.startsWith('knock-')) return 'a live knock grant';
  if (set && state) {
    const names = state.entries.filter((e) => e.services.includes(set) && entryAddresses(e, state.cache).some((c) => netContains(c, address))).map((e) => e.name);
    if (names.length) return `entry ${names.join(', ')}`;
  }
  if (reason.startsWith('trusted ')) return `[firewall] ${reason}`;
  if (reason.startsWith('open ')) return `[firewall] ${reason}`;
  return reason;
}

/**
 * Refuse a change that cuts off an admin's SSH session, unless forced. Returns the cuts a
 * forced change makes, for confirm(). `after` maps what the kernel enforces now to the result.
 */
export async function guardLockout(ctx: Ctx, opts: GuardOptions, what: string, after: (now: Access[]) => Access[], state?: State): Promise<Cut[]> {
  const admins = await findAdmins(ctx);
  if (admins.length === 0) return [];
  const now = await kernelAccess();
  const cuts = cutOff(admins, now, after(now));
  if (cuts.length === 0) return [];
  const said = cuts.map((c) => `${c.admin.address} (SSH tcp/${c.admin.port}, reached through ${explain(c.before, c.admin.address, state)})`).join(', ');
  if (!opts.force) throw new InputError(`${what} would lock out the admin session from ${said}`, 'keep that access (another entry, or a narrower change), or pass --force');
  await syslog(`${what}: forced although it cuts off the admin session from ${said}`, 'warning');
  return cuts;
}

/**
 * After a forced change that cut an admin off: on a terminal, ask for "yes" within the window
 * and throw (so the caller rolls back kernel and files) without it, as the installer does.
 */
export async function confirmForced(ctx: Ctx, cuts: Cut[], opts: GuardOptions): Promise<void> {
  // a terminal to answer on is what counts: `--force ... | tee log` still asks
  if (cuts.length === 0 || !process.stdin.isTTY) return;
  const seconds = opts.confirmSeconds ?? 60;
  const { confirmWithin } = await import('../installer/guard.js');
  if (await confirmWithin(seconds, `The change cuts off ${cuts.map((c) => c.admin.address).join(', ')}. Can you still reach this server?`)) return;
  throw new Tm3Error(`not confirmed within ${seconds} s (or the session hung up): the change was rolled back`, 'nothing to do: the previous whitelist is in force again');
}
