import { decode, encode } from 'ini';
import { parseSequence } from '../model/knock.js';
import { readText, writeAtomic } from './files.js';
import type { Paths } from './paths.js';

/** The knock code and permanent mode: state tm3 keeps, not admin config. */
export interface KnockState { sequence?: number[]; permanent: boolean }

export async function readKnockState(paths: Paths): Promise<KnockState> {
  const text = await readText(paths.knockState);
  if (text === undefined) return { permanent: false };
  const data = decode(text) as { knock?: Record<string, string | boolean> };
  const k = data.knock ?? {};
  return {
    sequence: typeof k.sequence === 'string' && k.sequence ? parseSequence(k.sequence) : undefined,
    permanent: k.permanent === true || k.permanent === 'true',
  };
}

export async function writeKnockState(paths: Paths, state: KnockState): Promise<void> {
  const body = encode({ knock: { sequence: state.sequence?.join(',') ?? '', permanent: state.permanent } });
  await writeAtomic(paths.knockState, `# tm3 knock state: the current sequence and permanent mode. Change it with tm3 knock.\n${body}`, 0o600);
}
