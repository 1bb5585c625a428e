import ipaddr from 'ipaddr.js';
import { parseHost, netContains } from '../model/address.js';
import { neverBanned } from '../model/entry.js';
import { entryAddresses, setName, BAN } from '../plan/sets.js';
import { ownAddresses } from './own-addresses.js';
import { removeMembers, readTm3Sets } from '../apply/ipset.js';
import { unbanEverywhere, fail2banRunning, changeIgnored } from '../apply/fail2ban.js';
import { fail2banFiles } from '../plan/fail2ban-files.js';
import { writeIfChanged, readText } from '../store/files.js';
import { asteriskLogsTwice } from '../store/asterisk-logger.js';
import { hasSystemd } from '../apply/system.js';
import { tm3Command } from '../tm3-command.js';
import type { State } from './state.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';

/**
 * `tm3 fail2ban ignore`: should this address never be banned? The same answer the jails'
 * ignoreip gives (banExempt below): loopback, trusted networks unless ban_trusted, this server's
 * own addresses, and entries that are never banned (admin-made ones by default, FQDNs at their
 * current answer). Anything unparsable is not ignored.
 */
export async function shouldIgnore(ctx: Ctx, text: string): Promise<string | undefined> {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try { addr = ipaddr.parse(parseHost(text, 'address').address); } catch { return undefined; }
  if (addr.range() === 'loopback') return 'loopback';
  if (!ctx.config.fail2ban.banTrusted) {
    const net = ctx.config.firewall.trusted.find((n) => netContains(n.cidr, addr.toString()));
    if (net) return `trusted network ${net.cidr}`;
  }
  if ((await ownAddresses(ctx)).includes(addr.toString())) return 'this server';
  const { entries, cache } = await loadState(ctx);
  const entry = entries.find((e) => neverBanned(e) && entryAddresses(e, cache).some((c) => netContains(c, addr.toString())));
  return entry ? `entry ${entry.name}` : undefined;
}

/** An address an admin just whitelisted is unbanned at once, in the kernel and in every jail. */
export async function liftBans(ctx: Ctx, cidrs: string[]): Promise<void> {
  if (!ctx.config.fail2ban.enabled) return;
  const hosts = cidrs.map((c) => c.split('/')[0]);
  for (const fam of [4, 6] as const) await removeMembers(setName(BAN, fam), hosts.filter((h) => (fam === 6) === h.includes(':')));
  if (await fail2banRunning(ctx.paths)) await unbanEverywhere(ctx.paths, hosts);
}

/**
 * Besides loopback and trusted networks, who is never banned: admin entries (by default) at
 * their current addresses, and the server's own addresses. Rendered into every jail's ignoreip.
 */
export async function banExempt(ctx: Ctx, state: State): Promise<string[]> {
  const own = (await ownAddresses(ctx)).filter((a) => !['linkLocal', 'loopback'].includes(ipaddr.parse(a).range()));
  // a single address as a plain address: fail2ban's delignoreip finds it only in that form
  const entries = state.entries.filter(neverBanned).flatMap((e) => entryAddresses(e, state.cache)).map((c) => c.replace(/\/(32|128)$/, ''));
  return [...new Set([...own, ...entries])].sort();
}

/**
 * After the whitelist changed: the jail file and the running jails follow, so an admin entry
 * is never banned from the moment it exists, and a removed one can be banned again.
 */
export async function syncIgnored(ctx: Ctx, before: State, after: State): Promise<void> {
  if (!ctx.config.fail2ban.enabled) return;
  const [was, now] = [await banExempt(ctx, before), await banExempt(ctx, after)];
  const add = now.filter((a) => !was.includes(a));
  const del = was.filter((a) => !now.includes(a));
  if (add.length === 0 && del.length === 0) return;
  // Only the never-banned list changes here, and only it reaches the running jails: the asterisk
  // jail's count stays as the file (and the running jail) has it, even if logger.conf changed since;
  // tm3 restart renders and restarts both (doctor names that drift).
  const jail = await readText(`${ctx.paths.f2b.conf}/jail.d/tm3.local`);
  const twins = jail !== undefined ? jail.includes("logger.conf sends notice and security") : asteriskLogsTwice(ctx.paths, ctx.config.fail2ban.asteriskLog);
  for (const f of fail2banFiles(ctx.config, ctx.paths, tm3Command(ctx.paths.root), hasSystemd(ctx.paths.root), now, twins)) {
    if (f.path.endsWith('/jail.d/tm3.local')) await writeIfChanged(f.path, f.text, f.mode);
  }
  if (await fail2banRunning(ctx.paths)) await changeIgnored(ctx.paths, add, del);
}

/**
 * `tm3 unban ADDRESS`: the ban goes from the kernel set and from every jail (Fail2Ban's database
 * too, so a restart of Fail2Ban does not bring it back). Says whether the kernel had it.
 */
export async function unban(ctx: Ctx, text: string, dryRun: boolean): Promise<{ address: string; wasBanned: boolean }> {
  const net = parseHost(text, 'address');
  const banned = (await readTm3Sets()).get(setName(BAN, net.family === 6 ? 6 : 4)) ?? [];
  const wasBanned = banned.some((m) => m.split('/')[0] === net.address);
  if (!dryRun) await liftBans(ctx, [net.cidr]);
  return { address: net.address, wasBanned };
}
