import type { Route } from '../apply/routes.js';

const prefix = (dst: string) => (dst === 'default' ? 0 : Number(dst.split('/')[1] ?? (dst.includes(':') ? 128 : 32)));

/**
 * A trusted network, or any part of it, that the server reaches through its default route comes
 * in on the same side as the internet, so reverse-path filtering cannot tell a forged source
 * from a real one. Safe: one route other than the default holds the whole network, or there is
 * no route at all (strict rpfilter drops what it cannot route back). `routes` are those holding
 * the network's first address (ip route show match). Pure: the caller looks up the routes.
 */
export function forgeable(net: string, routes: Route[]): string | undefined {
  const bits = prefix(net);
  if (!routes.some((r) => r.dst === 'default')) return undefined;
  if (routes.some((r) => r.dst !== 'default' && prefix(r.dst) <= bits)) return undefined;
  const def = routes.find((r) => r.dst === 'default');
  const part = routes.some((r) => r.dst !== 'default') ? 'partly ' : 'only ';
  return `[firewall] trusted ${net} is reached ${part}through the default route${def?.dev ? ` (${def.dev})` : ''}, so a packet from the internet can claim it (route it through its own interface, narrow it to the LAN, or remove it from trusted)`;
}
