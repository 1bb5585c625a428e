import { InputError } from '../../model/errors.js';
import { printable } from '../../model/address.js';
import { ALL, parseServiceList, type Catalog } from '../../model/services.js';
import { askServices, interactive } from '../prompt.js';

/** --services, else the original's menu on a terminal, else 'all' (scripts and the /root wrappers). */
export async function chooseServices(option: string | undefined, catalog: Catalog): Promise<string[]> {
  if (option !== undefined) return parseServiceList(option, catalog);
  return interactive() ? askServices(catalog) : [ALL];
}

/** --ban never|allow: whether Fail2Ban may ban this entry's addresses, over its source's default. */
export function banOption(value: string | undefined): { ban?: 'never' | 'allow' } {
  if (value === undefined) return {};
  if (value !== 'never' && value !== 'allow') throw new InputError(`--ban '${printable(value)}' is neither never nor allow`, 'use --ban never (admin entries are never banned anyway) or --ban allow');
  return { ban: value };
}
