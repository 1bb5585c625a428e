import { createInterface } from 'node:readline/promises';
import { InputError } from '../model/errors.js';
import { ALL, describePorts, parseServiceList, type Catalog } from '../model/services.js';

export const interactive = () => Boolean(process.stdin.isTTY && process.stdout.isTTY);

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
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

/** The original del-acct picker. */
export async function pickEntry(names: string[]): Promise<string> {
  if (names.length === 0) throw new InputError('there are no whitelist entries', 'add one with tm3 add-ip NAME ADDRESS');
  names.forEach((n, i) => process.stdout.write(`  ${String(i + 1).padStart(3)}) ${n}\n`));
  const answer = await ask('Entry to delete (number or name, empty to cancel): ');
  if (!answer) throw new InputError('nothing deleted', 'pick an entry, or give its name: tm3 del-acct NAME');
  return /^[0-9]+$/.test(answer) ? names[Number(answer) - 1] ?? answer : answer;
}
