import type { Route } from '../apply/routes.js';

const prefix = (dst: string) => (dst === 'default' ? 0 : Number(dst.split('/')[1] ?? (dst.includes(':') ? 128 : 32)));

/**
 * A trusted network that the server reaches only through its default route comes in on the
 * same side as the internet, so reverse-path filtering cannot tell a forged source from a real
 * one. With no route at all, strict rpfilter drops every packet claiming it. Pure: the caller
 * looks up the routes.
 */
export function forgeable(net: string, routes: Route[]): string | undefined {
  const best = [...routes].sort((a, b) => prefix(b.dst) - prefix(a.dst))[0];
  if (best?.dst !== 'default') return undefined;
  return `[firewall] trusted ${net} is reached only through the default route${best.dev ? ` (${best.dev})` : ''}, so a packet from the internet can claim it (route it through its own interface, or remove it from trusted)`;
}
