import { existsSync, readFileSync } from 'node:fs';
import { InputError } from '../model/errors.js';
import { readText, writeIfChanged } from '../store/files.js';
import { readPeople } from '../store/people.js';
import { run } from '../apply/run.js';
import { hasSystemd, syslog } from '../apply/system.js';
import { tm3Command } from '../tm3-command.js';
import type { Ctx } from '../cli/context.js';
import { detectFlavour, dialplanPaths, dialplanText, dialplanEnabled, unitTexts, withInclude, type Flavour } from './dialplan.js';
import { parseProcNetTcp } from './peer.js';
import { hasPin } from './pin-store.js';
import { readFailures, WINDOW_MS } from './limits.js';

// tm3 callin enable|disable|status: the dialplan include, the #include line that pulls it in,
// and the FastAGI socket unit. Files first (all or nothing is not needed: each is rewritten
// whole and the next enable repairs any), then systemd and Asterisk are told.

export interface CallinPlan { flavour: Flavour; files: { path: string; text: string; mode: number }[]; includerMissing?: string }

export async function planCallin(ctx: Ctx, on: boolean): Promise<CallinPlan> {
  const c = ctx.config.callin;
  const flavour = detectFlavour(c.dialplan, (p) => existsSync(ctx.paths.at(p)));
  const { file, includer } = dialplanPaths(flavour);
  const files = [{ path: ctx.paths.at(file), text: dialplanText(c, on), mode: 0o644 }];
  let includerMissing: string | undefined;
  if (includer && on) {
    const text = await readText(ctx.paths.at(includer));
    if (text === undefined) includerMissing = includer;
    else {
      const next = withInclude(text);
      if (next !== undefined) files.push({ path: ctx.paths.at(includer), text: next, mode: 0o644 });
    }
  }
  if (on) {
    const u = unitTexts(c, tm3Command(ctx.paths.root));
    files.push({ path: ctx.paths.unit('tm3-callin.socket'), text: u.socket, mode: 0o644 }, { path: ctx.paths.unit('tm3-callin@.service'), text: u.service, mode: 0o644 });
  }
  return { flavour, files, ...(includerMissing ? { includerMissing } : {}) };
}

export async function applyCallin(ctx: Ctx, plan: CallinPlan, on: boolean): Promise<string[]> {
  const uid = on ? squatted(ctx.config.callin.port) : undefined;
  if (uid !== undefined) throw new InputError(`uid ${uid} listens on 127.0.0.1:${ctx.config.callin.port}, not tm3-callin.socket: calls would key their PINs to it`, `find it with ss -ltnpe 'sport = :${ctx.config.callin.port}' and stop it, or set another [callin] port; then tm3 callin enable`);
  if (on && plan.includerMissing) throw new InputError(`${plan.includerMissing} does not exist: is Asterisk installed here?`, 'install Asterisk first, or set [callin] dialplan = asterisk, incredible or wazo to say which PBX this is');
  const written: string[] = [];
  for (const f of plan.files) if (await writeIfChanged(f.path, f.text, f.mode)) written.push(ctx.paths.inServer(f.path));
  const notes: string[] = [];
  if (hasSystemd(ctx.paths.root)) {
    await run('systemctl', ['daemon-reload'], { allowFail: true });
    const r = await run('systemctl', on ? ['enable', '--now', 'tm3-callin.socket'] : ['disable', '--now', 'tm3-callin.socket'], { allowFail: true });
    notes.push(r.exitCode === 0 ? `tm3-callin.socket ${on ? 'listening' : 'stopped'}` : `systemctl said: ${r.stderr.trim().split('\n')[0]}`);
    const late = on ? squatted(ctx.config.callin.port) : undefined;
    if (late !== undefined) notes.push(`WARNING: uid ${late} listens on 127.0.0.1:${ctx.config.callin.port}, not tm3-callin.socket: run tm3 callin disable and find it with ss -ltnpe`);
  } else notes.push('no systemd here: nothing listens on the AGI port until something serves `tm3 callin agi` there');
  if (ctx.paths.root === '/') {
    const r = await run('asterisk', ['-rx', 'dialplan reload'], { allowFail: true, timeoutMs: 15_000 }).catch(() => ({ exitCode: 127 }));
    notes.push(r.exitCode === 0 ? 'dialplan reloaded' : 'Asterisk did not reload its dialplan: run asterisk -rx "dialplan reload"');
  } else notes.push('reload the dialplan: asterisk -rx "dialplan reload"');
  await syslog(`callin: ${on ? 'enabled' : 'disabled'}; wrote ${written.join(' ') || 'nothing new'}`);
  return [...written.map((w) => `wrote ${w}`), ...notes];
}

/**
 * The uid of whoever listens on 127.0.0.1:PORT (or on every IPv4 address, which catches the same
 * connections when loopback has no listener of its own). The port is below 1024, so only root may
 * listen there; were it above, any local user could take it while tm3-callin.socket is not there
 * and be the AGI server every call's PIN is keyed to (red team). This check stays for a box whose
 * net.ipv4.ip_unprivileged_port_start was lowered. Only root's listener (systemd's socket) is tm3's.
 */
export function listenerUid(port: number, tcp = '/proc/net/tcp'): number | undefined {
  const p = port.toString(16).toUpperCase().padStart(4, '0');
  try {
    const rows = parseProcNetTcp(readFileSync(tcp, 'utf8')).filter((r) => r.remote === '00000000:0000');
    return (rows.find((r) => r.local === `0100007F:${p}`) ?? rows.find((r) => r.local === `00000000:${p}`))?.uid;
  } catch { return undefined; }
}

/** Whether root listens on 127.0.0.1:PORT (the socket unit, or a stand-in run as root). */
export const listening = (port: number) => listenerUid(port) === 0;

const squatted = (port: number) => {
  const uid = listenerUid(port);
  return uid !== undefined && uid !== 0 ? uid : undefined;
};

export async function callinStatus(ctx: Ctx) {
  const c = ctx.config.callin;
  const flavour = detectFlavour(c.dialplan, (p) => existsSync(ctx.paths.at(p)));
  const { file, includer } = dialplanPaths(flavour);
  const text = await readText(ctx.paths.at(file));
  const inc = includer ? await readText(ctx.paths.at(includer)) : undefined;
  const { people } = await readPeople(ctx.paths, ctx.config.catalog);
  const f = readFailures(ctx.paths);
  const now = Date.now();
  return {
    enabled: dialplanEnabled(text), flavour, file, includer: includer ?? null, included: includer ? withInclude(inc ?? '') === undefined : true,
    extension: c.extension, context: c.context, port: c.port, agiUser: c.agiUser, listening: listening(c.port), listenerUid: listenerUid(c.port) ?? null,
    knockEnabled: ctx.config.knock.enabled,
    peopleWithPin: people.filter((p) => hasPin(ctx.paths, p)).map((p) => p.name),
    wrongPinsLastHour: f.all.filter((t) => now - t < WINDOW_MS).length, maxWrongPinsPerHour: c.maxWrongPinsPerHour,
  };
}
