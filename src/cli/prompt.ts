import { createInterface, type Interface } from 'node:readline';
import { InputError } from '../model/errors.js';
import { ALL, describePorts, parseServiceList, type Catalog } from '../model/services.js';

export const interactive = () => Boolean(process.stdin.isTTY && process.stdout.isTTY);

// One reader for every question of a run: a second readline would lose what the admin typed
// ahead (the picker's answer and the confirmation arrive in one read on a fast terminal).
let reader: Interface | undefined;
const typed: string[] = [];
let waiting: ((line: string | undefined) => void) | undefined;
let ended = false;

function lineReader(): Interface {
  if (!reader) {
    reader = createInterface({ input: process.stdin, terminal: false });
    reader.on('line', (l) => { if (waiting) { const w = waiting; waiting = undefined; w(l); } else typed.push(l); });
    reader.on('close', () => { ended = true; waiting?.(undefined); waiting = undefined; });
  }
  return reader;
}

async function ask(question: string): Promise<string> {
  process.stdout.write(question);
  const rl = lineReader();
  if (typed.length) return typed.shift()!.trim();
  if (ended) return '';
  rl.resume();
  const line = await new Promise<string | undefined>((resolve) => { waiting = resolve; });
  // paused between questions, so a finished command exits instead of waiting for more input
  rl.pause();
  return (line ?? '').trim();
}

/** The original's service menu; numbers or names, comma separated. */
export async function askServices(catalog: Catalog): Promise<string[]> {
  const names = [ALL, ...catalog.keys()];
  process.stdout.write('Which services may this entry reach?\n');
  names.forEach((n, i) => process.stdout.write(`  ${String(i + 1).padStart(2)}) ${n.padEnd(9)} ${n === ALL ? 'every port' : describePorts(catalog.get(n) ?? [])}\n`));
  const answer = await ask('Choice(s), e.g. 2,4 or sip,web [1]: ');
  const picked = (answer || '1').split(/[,\s]+/).filter(Boolean).map((a) => (/^[0-9]+$/.test(a) ? names[Number(a) - 1] ?? `#${a}` : a));
  return parseServiceList(picked.join(','), catalog);
}

/**
 * The original del-acct picker, with what each entry lets in, where it came from and how old it
 * is: knock entries are named by their timestamp, and a name alone says nothing.
 */
export async function pickEntry(entries: { name: string; summary: string }[]): Promise<string> {
  if (entries.length === 0) throw new InputError('there are no whitelist entries', 'add one with tm3 add-ip NAME ADDRESS');
  const width = Math.min(24, Math.max(...entries.map((e) => e.name.length)));
  entries.forEach((e, i) => process.stdout.write(`  ${String(i + 1).padStart(3)}) ${e.name.padEnd(width)}  ${e.summary}\n`));
  const names = entries.map((e) => e.name);
  const answer = await ask('Entry to delete (number or name, empty to cancel): ');
  if (!answer) throw new InputError('nothing deleted', 'pick an entry, or give its name: tm3 del-acct NAME');
  return /^[0-9]+$/.test(answer) ? names[Number(answer) - 1] ?? answer : answer;
}

/** A yes/no question on a terminal; only y or yes is yes. */
export async function confirm(question: string): Promise<boolean> {
  return /^y(es)?$/i.test(await ask(`${question} [y/N] `));
}
