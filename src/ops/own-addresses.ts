import ipaddr from 'ipaddr.js';
import { localAddresses } from '../apply/net.js';
import type { Ctx } from '../cli/context.js';

/**
 * The server's own addresses, canonical: every interface's, and [server] public_address (the
 * one behind NAT). No DNS answer may whitelist them, no knock from them makes an entry, and
 * Fail2Ban never bans them.
 */
export async function ownAddresses(ctx: Ctx): Promise<string[]> {
  const all = [...(await localAddresses()), ...(ctx.config.server.publicAddress ? [ctx.config.server.publicAddress] : [])];
  return [...new Set(all.filter((a) => ipaddr.isValid(a)).map((a) => ipaddr.process(a).toString()))];
}
