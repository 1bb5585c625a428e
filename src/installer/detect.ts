import fetch from 'node-fetch';
import { parseHost } from '../model/address.js';
import { InputError } from '../model/errors.js';
import { parseContact } from '../model/contact.js';
import { printable } from '../model/address.js';
import { defaultInterface, localAddresses, interfaceNames } from '../apply/net.js';
import ipaddr from 'ipaddr.js';

export interface Detected {
  adminIps: string[];
  interface: string;
  serverAddresses: string[];
  publicIp?: string;
  /** whom users ask when knocking fails; printed in knock.FAQ */
  adminContact?: string;
}

// Two independent echo services; an answer counts only when both agree. HTTPS only.
export const ECHO_SERVICES = ['https://api.ipify.org', 'https://icanhazip.com'];

/** The admin's address as SSH reports it: "client-ip client-port server-ip server-port". */
export function sshClientAddress(env: NodeJS.ProcessEnv): string | undefined {
  const first = (env.SSH_CONNECTION || env.SSH_CLIENT || '').trim().split(/\s+/)[0];
  return first || undefined;
}

export async function publicAddress(timeoutMs = 4000, services = ECHO_SERVICES, get: (url: string, signal: AbortSignal) => Promise<{ text(): Promise<string> }> = (url, signal) => fetch(url, { signal })): Promise<string | undefined> {
  const ask = async (url: string) => {
    if (!url.startsWith('https://')) throw new Error('public address lookups use HTTPS only');
    const res = await get(url, AbortSignal.timeout(timeoutMs));
    return parseHost((await res.text()).trim(), 'public address').address;
  };
  const answers = await Promise.allSettled(services.map(ask));
  const ok = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  return ok.length === services.length && ok.every((a) => a === ok[0]) ? ok[0] : undefined;
}

/**
 * The interface must exist where the firewall will run: this network namespace (the lab and the
 * sandbox run the installer inside theirs). knockd would otherwise fail at every start.
 */
export async function checkInterface(name: string): Promise<string> {
  const names = await interfaceNames();
  const known = names.filter((n) => n !== 'lo').join(', ') || 'none';
  if (!name) throw new InputError('no interface was given, and there is no default route to take it from', `give one that does: ${known}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/.test(name)) throw new InputError(`'${printable(name)}' is not an interface name`, `pick one of: ${known}`);
  if (!names.includes(name)) throw new InputError(`interface '${name}' does not exist on this server`, `give one that does: ${known}`);
  return name;
}

/** The values to show; with `ask`, a missing default route leaves the interface for the admin to type. */
export async function detect(opts: { adminIp?: string[]; interface?: string; publicIp?: string | false; adminContact?: string; ask?: boolean }): Promise<Detected> {
  const fromSsh = sshClientAddress(process.env);
  const adminIps = (opts.adminIp?.length ? opts.adminIp.flatMap((a) => a.split(',')) : fromSsh ? [fromSsh] : []).map((a) => parseHost(a.trim(), 'admin address').address);
  const adminContact = opts.adminContact ? parseContact(opts.adminContact, '--admin-contact') : undefined;
  if (typeof opts.publicIp === 'string') parseHost(opts.publicIp, 'public address');
  const iface = opts.interface ? await checkInterface(opts.interface) : await defaultInterface();
  if (!iface && !opts.ask) throw new InputError('no default route, so no interface to protect was found', 'pass --interface NAME');
  const serverAddresses = (await localAddresses()).filter((a) => {
    const r = ipaddr.parse(a).range();
    return r !== 'loopback' && r !== 'linkLocal';
  });
  let publicIp: string | undefined;
  if (typeof opts.publicIp === 'string') publicIp = parseHost(opts.publicIp, 'public address').address;
  else if (opts.publicIp !== false) publicIp = await publicAddress();
  return { adminIps: [...new Set(adminIps)], interface: iface ?? '', serverAddresses, publicIp, adminContact };
}
