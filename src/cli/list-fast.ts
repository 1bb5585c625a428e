// `tm3 list` and `tm3 list --json` with nothing else but --root and --quiet: the listing scripts
// and admins run most, started by the bin (tm3.ts) without commander and the command table, as
// one file built by scripts/bundle.mjs instead of two dozen ES modules for Node to resolve and
// link. The same functions as the list command, the same error handler, the same index flush.
import { makeContext, type GlobalOpts } from './context.js';
import { selectEntries, printEntries } from './list-entries.js';
import { handleError } from './errors.js';
import { flushIndex } from '../store/entry-index.js';

export async function listFast(opts: GlobalOpts, json: boolean): Promise<void> {
  try {
    const ctx = await makeContext(opts);
    printEntries(ctx, (await selectEntries(ctx, undefined)).entries, undefined, json);
    await flushIndex();
  } catch (err) {
    process.exitCode = handleError(err, 'tm3');
  }
}
