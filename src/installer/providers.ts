// The installer's provider step: --providers a,b (checked before anything changes), or a question
// on a terminal; none by default. Entries are written like `tm3 provider add` makes them, and the
// first restart resolves any hostname among them.
import { createInterface } from 'node:readline';
import { InputError } from '../model/errors.js';
import { askValid } from './ask.js';
import type { Provider } from '../model/provider.js';
import { pickProviders, planProviderAdd } from '../ops/providers.js';
import { loadProviders } from '../store/providers.js';
import { readEntries, writeEntry, deleteEntry } from '../store/entries.js';
import type { Config } from '../store/config.js';
import type { Paths } from '../store/paths.js';
import type { Output } from '../cli/output.js';

/** "twilio, telnyx" -> catalog ids; "" and "none" are none. A typo gets the nearest id. */
export function parseProviderList(text: string, providers: Provider[]): string[] {
  const words = String(text).split(/[,\s]+/).map((w) => w.trim().toLowerCase()).filter(Boolean);
  if (words.length === 1 && words[0] === 'none') return [];
  const chosen = pickProviders(words, providers);
  const wide = chosen.find((p) => p.wide);
  if (wide) throw new InputError(`provider ${wide.id} publishes wide ranges`, `leave it out here; after the install, check it and run tm3 provider add ${wide.id} --allow-wide`);
  return chosen.map((p) => p.id);
}

/** --providers, validated against the catalog under the root; undefined when the flag was not given. */
export async function providersFromFlag(paths: Paths, flag: string | undefined): Promise<string[] | undefined> {
  if (flag === undefined) return undefined;
  return parseProviderList(flag, await loadProviders(paths));
}

/** On a terminal: which providers to trust, Enter for none; a wrong answer is asked again. */
export async function askProviders(paths: Paths, out: Output): Promise<string[]> {
  const providers = await loadProviders(paths);
  out.info('Trusted VoIP providers (SIP trunks that send calls from fixed addresses):');
  for (const p of providers) out.info(`  ${p.id.padEnd(12)} ${p.name}`);
  // the installer's one way of asking: a typo asks again, Ctrl-C or a closed terminal ends the run
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await askValid(rl, 'Trust which providers? comma separated ids [none]: ', (a) => parseProviderList(a, providers));
  } finally {
    rl.close();
  }
}

/** Write the chosen providers' entries (a re-run with the same ids writes nothing); returns the entry names. */
export async function placeProviders(paths: Paths, config: Config, ids: string[], dryRun: boolean): Promise<string[]> {
  if (ids.length === 0) return [];
  const chosen = pickProviders(ids, await loadProviders(paths));
  const { entries } = await readEntries(paths, config.catalog);
  const plan = planProviderAdd(chosen, entries, config.catalog);
  if (!dryRun) {
    for (const name of plan.removes) if (!plan.adds.some((e) => e.name === name)) await deleteEntry(paths, name);
    for (const e of plan.adds) await writeEntry(paths, e);
  }
  return plan.adds.map((e) => e.name);
}
