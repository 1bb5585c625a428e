import { ALL, parseServiceList, type Catalog } from '../../model/services.js';
import { askServices, interactive } from '../prompt.js';

/** --services, else the original's menu on a terminal, else 'all' (scripts and the /root wrappers). */
export async function chooseServices(option: string | undefined, catalog: Catalog): Promise<string[]> {
  if (option !== undefined) return parseServiceList(option, catalog);
  return interactive() ? askServices(catalog) : [ALL];
}
