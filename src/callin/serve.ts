import fs from 'node:fs/promises';
import { constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { netContains } from '../model/address.js';
import { readPeople, readPerson } from '../store/people.js';
import { InputError } from '../model/errors.js';
import { readText } from '../store/files.js';
import { withLock } from '../store/lock.js';
import { banned } from '../apply/ipset.js';
import { syslog } from '../apply/system.js';
import { defaultInterface, interfaceAddress } from '../apply/net.js';
import { setName, BAN } from '../plan/sets.js';
import { CALLIN_LOG } from '../plan/fail2ban-files.js';
import type { Ctx } from '../cli/context.js';
import { openAgi, type Channel } from './agi.js';
import { runCall, PIN_TRIES, type CallResult } from './flow.js';
import { cleanCallerId } from './digits.js';
import { personByPin, pinStillOpens } from './pin-store.js';
import { addFailure, limited, readFailures, writeFailures } from './limits.js';
import { stdinPeer, uidOf, type Peer } from './peer.js';
import { detectFlavour, dialplanEnabled, dialplanPaths } from './dialplan.js';

// `tm3 callin agi`: one call, as root, on the connection systemd's tm3-callin.socket accepted
// (or on the pipes of a plain AGI that Asterisk runs as root). The thin edge around flow.ts.

/** Only Asterisk's user and root may speak to us; a plain AGI pipe is Asterisk itself. */
export function peerAllowed(ctx: Ctx, peer: Peer): string | undefined {
  if (peer.kind === 'pipe') return undefined;
  if (peer.kind === 'other') return 'stdin is neither the FastAGI socket nor a pipe from Asterisk';
  const passwd = existsSync(ctx.paths.at('/etc/passwd')) ? readFileSync(ctx.paths.at('/etc/passwd'), 'utf8') : '';
  const allowed = [0, uidOf(passwd, ctx.config.callin.agiUser)].filter((u) => u !== undefined);
  if (peer.uid === undefined) return 'the connection does not come from a process on this box';
  return allowed.includes(peer.uid) ? undefined : `uid ${peer.uid} connected, not ${ctx.config.callin.agiUser} or root`;
}

/** The caller's SIP signalling address as Asterisk saw it (PJSIP, then chan_sip), or undefined. */
export async function signallingAddress(ch: Channel): Promise<string | undefined> {
  for (const expr of ['${CHANNEL(pjsip,remote_addr)}', '${CHANNEL(recvip)}']) {
    const r = await ch.command(`GET FULL VARIABLE ${expr}`);
    const v = r.result === '1' ? (r.data ?? '') : '';
    const m = /^\[?([0-9a-fA-F.:]+?)\]?(?::\d{1,5})?$/.exec(v.trim()) ?? /^([0-9.]+):\d{1,5}$/.exec(v.trim());
    const host = m?.[1];
    if (host && ipaddr.isValid(host)) return ipaddr.process(host).toString();
  }
  return undefined;
}

const stamp = (d = new Date()) => {
  const p = (n: number) => String(n).padStart(2, '0');
  // local time, as Fail2Ban reads a date without a zone
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

async function appendLine(file: string, line: string, mode = 0o600): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o750 });
  const fh = await fs.open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, mode);
  try { await fh.write(`${line}\n`); } finally { await fh.close(); }
}

/** Is call-in switched on: tm3's dialplan file, with its extension, where this box reads it. */
export async function callinEnabled(ctx: Ctx): Promise<boolean> {
  const flavour = detectFlavour(ctx.config.callin.dialplan, (p) => existsSync(ctx.paths.at(p)));
  return dialplanEnabled(await readText(ctx.paths.at(dialplanPaths(flavour).file)));
}

export async function serveCall(ctx: Ctx, input: Readable, output: Writable, peer: Peer): Promise<CallResult & { caller: string; from?: string }> {
  const refusedPeer = peerAllowed(ctx, peer);
  if (refusedPeer) {
    await syslog(`callin: refused an AGI connection: ${refusedPeer}`, 'warning');
    return { outcome: 'refused', caller: 'unknown', detail: refusedPeer };
  }
  const ch = await openAgi(input, output);
  const caller = cleanCallerId(ch.env.agi_callerid);
  let from: string | undefined;
  // the PIN that named the person, checked again at the grant
  let pinUsed = '';
  const enabled = await callinEnabled(ctx);
  const result = !enabled || !ctx.config.knock.enabled
    ? { outcome: 'disabled' as const, detail: !enabled ? 'call-in is disabled (tm3 callin enable)' : 'call-in opens through the knock sets: [knock] enabled = false' }
    : await runCall(ch, {
      limited: async () => {
        from = await signallingAddress(ch);
        return limited(readFailures(ctx.paths), caller, Date.now(), ctx.config.callin.maxWrongPinsPerHour);
      },
      personByPin: async (pin) => {
        const p = personByPin(ctx.paths, (await readPeople(ctx.paths, ctx.config.catalog)).people, pin);
        if (p) pinUsed = pin;
        return p;
      },
      wrongPin: async (attempt) => {
        // the line Fail2Ban reads first: a busy lock (a long restart) must not cost the ban
        if (from) await appendLine(ctx.paths.at(CALLIN_LOG), `${stamp()} tm3-callin: wrong PIN ${attempt} of ${PIN_TRIES} from ${from} (caller ${caller})`, 0o640);
        await syslog(`callin: wrong PIN ${attempt} of ${PIN_TRIES} from ${from ?? 'an unknown address'} (caller ${caller})`, 'warning');
        await withLock(ctx.paths, async () => writeFailures(ctx.paths, addFailure(readFailures(ctx.paths), caller, Date.now())), { waitMs: 10_000 })
          .catch((e: Error) => syslog(`callin: wrong PIN not counted for the rate limit: ${e.message}`, 'warning'));
      },
      refusal: async (address) => {
        if (ctx.config.firewall.trusted.some((t) => netContains(t.cidr, address))) return `${address} is in a trusted network`;
        const { ownAddresses } = await import('../ops/own-addresses.js');
        if ((await ownAddresses(ctx)).includes(address)) return `${address} is an address of this server`;
        if (await banned(setName(BAN, 4), address, !ctx.config.fail2ban.enabled)) return `${address} is banned`;
        return undefined;
      },
      grant: async (person, address) => {
        // minutes may have passed since the PIN: a PIN changed or cleared, or a person rotated
        // or revoked and added again, meanwhile opens nothing
        if (!pinStillOpens(ctx.paths, await readPerson(ctx.paths, ctx.config.catalog, person.name), pinUsed)) {
          throw new InputError(`the PIN of ${person.name} changed during the call`, 'call again with the current PIN');
        }
        // and `tm3 callin disable` (an admin stopping an attack) ends calls already under way too
        if (!(await callinEnabled(ctx))) throw new InputError('call-in was disabled during the call', 'tm3 callin enable');
        const { grant } = await import('../ops/knock-grant.js');
        const g = await grant(ctx, address, false, { person: person.name, method: 'callin' });
        return { seconds: g.seconds, ...(g.entry ? { entry: g.entry } : {}) };
      },
      server: await serverAddress(ctx),
    });
  // every call, whatever became of it, in the audit log and syslog
  const record = { at: new Date().toISOString(), event: 'call', method: 'callin', caller, from: from ?? null, ...result };
  await appendLine(ctx.paths.auditLog, JSON.stringify(record)).catch((e: Error) => syslog(`access log not written: ${e.message}`, 'warning'));
  await syslog(`callin: ${result.outcome} call from ${from ?? 'an unknown address'} (caller ${caller})${result.person ? ` person ${result.person}` : ''}${result.address ? ` address ${result.address}` : ''}${result.detail ? `: ${result.detail}` : ''}`, result.outcome === 'granted' ? 'info' : 'warning');
  if (result.outcome === 'disabled') await ch.command('HANGUP').catch(() => undefined);
  return { ...result, caller, ...(from ? { from } : {}) };
}

async function serverAddress(ctx: Ctx): Promise<string | undefined> {
  if (ctx.config.server.publicAddress && ipaddr.IPv4.isValidFourPartDecimal(ctx.config.server.publicAddress)) return ctx.config.server.publicAddress;
  const iface = ctx.config.knock.interface || (await defaultInterface());
  const a = iface ? await interfaceAddress(iface) : undefined;
  return a && ipaddr.IPv4.isValidFourPartDecimal(a) ? a : undefined;
}

export { stdinPeer };
