import { run } from './run.js';

/** The interface of the default route, for knockd to listen on. */
export async function defaultInterface(): Promise<string | undefined> {
  const { stdout } = await run('ip', ['-o', 'route', 'show', 'default'], { allowFail: true });
  return /\bdev (\S+)/.exec(stdout)?.[1];
}

/** The first global address on an interface (v4 preferred), for knock.FAQ. */
export async function interfaceAddress(iface: string): Promise<string | undefined> {
  const { stdout } = await run('ip', ['-o', 'addr', 'show', 'dev', iface, 'scope', 'global'], { allowFail: true });
  const v4 = /\binet (\S+)\//.exec(stdout)?.[1];
  return v4 ?? /\binet6 (\S+)\//.exec(stdout)?.[1];
}

/** The interfaces of this network namespace (netlink, so a namespace's own, whatever /sys shows). */
export async function interfaceNames(): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  return [...stdout.matchAll(/^\d+: ([^:@\s]+)[@:]/gm)].map((m) => m[1]);
}

/** Every TCP and UDP port something listens on, so a knock never lands on a live service. */
export async function listeningPorts(): Promise<number[]> {
  const { stdout } = await run('ss', ['-Htuln'], { allowFail: true });
  return stdout.split('\n').map((l) => Number(/:(\d+)\s/.exec(l.split(/\s+/)[4] + ' ')?.[1])).filter((n) => n > 0);
}

/** Every address configured on this host (all interfaces), canonical text. */
export async function localAddresses(): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'addr', 'show'], { allowFail: true });
  return [...stdout.matchAll(/\binet6? ([0-9a-fA-F:.]+)\//g)].map((m) => m[1]);
}
