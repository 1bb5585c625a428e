import fs from 'node:fs';
import { hasSystemd, systemctl, restartUnit } from '../apply/system.js';
import { defaultInterface } from '../apply/net.js';
import type { Ctx } from '../cli/context.js';

/** The reasons the if-up hooks give (hooks/*.hbs): a link has just come up. */
export const isLinkEvent = (reason: string) => /^(if-up|routable|nm):/.test(reason);

/**
 * A link came up. knockd listens on one interface and exits at boot when that NIC is not there
 * yet (a hotplugged or slow NIC): "could not open eth0: No such device". systemd leaves it failed,
 * so the door would stay shut to every traveller until someone noticed. Start it again now, if the
 * admin has it enabled; returns what happened, for the log. Called after the refresh, so a
 * restart that waits on network-online.target never holds up a revocation.
 */
export async function reviveKnockd(ctx: Ctx): Promise<string | undefined> {
  if (!ctx.config.knock.enabled || !hasSystemd(ctx.paths.root)) return undefined;
  // failed, not merely stopped: a knockd the admin stopped stays stopped, and one still waiting
  // for network-online.target (networkd without carrier) starts by itself
  if ((await systemctl(['is-failed', '--quiet', 'knockd.service'], true)).exitCode !== 0) return undefined;
  if ((await systemctl(['is-enabled', '--quiet', 'knockd.service'], true)).exitCode !== 0) return undefined;
  // ifupdown's hook also runs for the whole set (IFACE=--all); knockd's own NIC must be there
  const iface = ctx.config.knock.interface || (await defaultInterface());
  if (!iface || !fs.existsSync(`/sys/class/net/${iface}`)) return undefined;
  const u = await restartUnit('knockd.service');
  return u.active ? 'knockd had failed; started it now that a link is up' : `knockd.service is ${u.state} even with the link up (journalctl -u knockd says why)`;
}
