import { decode, encode } from 'ini';
import { parseSequence } from '../model/knock.js';
import { readText, writeAtomic } from './files.js';
import type { Paths } from './paths.js';

/** The knock code and permanent mode: state tm3 keeps, not admin config. */
export interface KnockState {
  sequence?: number[];
  permanent: boolean;
  /** the next sequence, picked by `knock rotate --dry-run` so the real rotate uses what it showed */
  pending?: number[];
}

export async function readKnockState(paths: Paths): Promise<KnockState> {
  const text = await readText(paths.knockState);
  if (text === undefined) return { permanent: false };
  const data = decode(text) as { knock?: Record<string, string | boolean> };
  const k = data.knock ?? {};
  return {
    sequence: typeof k.sequence === 'string' && k.sequence ? parseSequence(k.sequence) : undefined,
    permanent: k.permanent === true || k.permanent === 'true',
    ...(typeof k.pending === 'string' && k.pending ? { pending: parseSequence(k.pending) } : {}),
  };
}

export async function writeKnockState(paths: Paths, state: KnockState): Promise<void> {
  const body = encode({ knock: { sequence: state.sequence?.join(',') ?? '', permanent: state.permanent, ...(state.pending ? { pending: state.pending.join(',') } : {}) } });
  await writeAtomic(paths.knockState, `# tm3 knock state: the current sequence, permanent mode and the next sequence (rotate --dry-run). Change it with tm3 knock.\n${body}`, 0o600);
}
