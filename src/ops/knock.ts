import { InputError, Tm3Error } from '../model/errors.js';
import { generateSequence } from '../model/knock.js';
import { knockFiles, type KnockInputs } from '../plan/knock-files.js';
import { readKnockState, writeKnockState, type KnockState } from '../store/knock-state.js';
import { writeIfChanged } from '../store/files.js';
import { restartKnockd } from '../apply/knockd.js';
import { defaultInterface, interfaceAddress, listeningPorts } from '../apply/net.js';
import { syslog } from '../apply/system.js';
import { tm3Command } from '../tm3-command.js';
import type { Ctx } from '../cli/context.js';

/** A fresh sequence that avoids RTP, the catalog, common ports and whatever listens here. */
export async function newSequence(ctx: Ctx): Promise<number[]> {
  // A scope of a whole protocol (a migrated "-p udp" rule) is not a port to steer clear of.
  const ranges = [...ctx.config.firewall.open, ...[...ctx.config.catalog.values()].flat()].filter((r) => r.to - r.from < 32_768);
  return generateSequence(ranges, await listeningPorts());
}

/** The values knock files need; a box without a sequence gets one (kept until `knock rotate`). */
export async function knockInputs(ctx: Ctx, dryRun: boolean, state?: KnockState): Promise<KnockInputs | undefined> {
  if (!ctx.config.knock.enabled) return undefined;
  const st = state ?? (await readKnockState(ctx.paths));
  if (!st.sequence) {
    st.sequence = await newSequence(ctx);
    if (!dryRun) await writeKnockState(ctx.paths, st);
  }
  const iface = ctx.config.knock.interface || (await defaultInterface());
  if (!iface) {
    ctx.out.warn('knockd has no interface to listen on (no default route); set [knock] interface');
    return undefined;
  }
  const server = ctx.config.server.publicAddress || (await interfaceAddress(iface)) || 'this-server';
  return { sequence: st.sequence, permanent: st.permanent, interface: iface, server, tm3: tm3Command(ctx.paths.root) };
}

/** Write the knock files and (re)start knockd on the configured interface. */
export async function applyKnock(ctx: Ctx, inputs: KnockInputs): Promise<string> {
  for (const f of knockFiles(ctx.config, ctx.paths, inputs)) await writeIfChanged(f.path, f.text, f.mode);
  return restartKnockd(ctx.paths, inputs.interface);
}

export async function setPermanent(ctx: Ctx, on: boolean): Promise<void> {
  const st = await readKnockState(ctx.paths);
  st.permanent = on;
  await writeKnockState(ctx.paths, st);
  const inputs = await knockInputs(ctx, false, st);
  if (inputs) for (const f of knockFiles(ctx.config, ctx.paths, inputs)) if (f.path === ctx.paths.knockFaq) await writeIfChanged(f.path, f.text, f.mode);
  await syslog(`knock permanent mode ${on ? 'activated' : 'deactivated'}`);
}

/** An employee left: a new sequence, knockd restarted on it, knock.FAQ rewritten. */
export async function rotate(ctx: Ctx, dryRun: boolean): Promise<number[]> {
  if (!ctx.config.knock.enabled) throw new InputError('knocking is disabled', 'set [knock] enabled = true first');
  const st = await readKnockState(ctx.paths);
  const old = st.sequence ?? [];
  let seq = await newSequence(ctx);
  while (seq.some((p) => old.includes(p))) seq = await newSequence(ctx);
  if (dryRun) return seq;
  st.sequence = seq;
  const inputs = await knockInputs(ctx, false, st);
  if (!inputs) throw new Tm3Error('knockd has no interface', 'set [knock] interface, then run tm3 knock rotate again', 2);
  await writeKnockState(ctx.paths, st);
  await applyKnock(ctx, inputs);
  await syslog(`knock sequence rotated`);
  return seq;
}

