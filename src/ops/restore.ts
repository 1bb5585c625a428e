import fs from 'node:fs/promises';
import { parseEntry, type Entry } from '../model/entry.js';
import { validateName } from '../model/name.js';
import { InputError } from '../model/errors.js';
import { readEntryFile, entryExists } from '../store/entries.js';
import { readCache } from '../store/cache.js';
import { findDeleted, type Backup } from '../store/deleted.js';
import { mergeAnswer } from '../resolve/merge.js';
import type { Ctx } from '../cli/context.js';
import { changeEntry, type ChangeResult } from './entry-change.js';

/**
 * A kept deletion read back as an entry. The file is input like any entry file: a link, a FIFO,
 * a file of another owner, a huge one or a garbage one is refused, never followed or trusted.
 */
export function readBackup(ctx: Ctx, b: Backup): Entry {
  const shown = ctx.paths.inServer(b.file);
  const name = validateName(b.name);
  const text = readEntryFile(b.file);
  if (text === undefined) throw new InputError(`${shown} vanished`, 'tm3 restore --list shows what can be restored');
  if (text instanceof Error) throw new InputError(`${shown} is not restored: ${text.message}`, `remove ${shown}; tm3 restore only reads files tm3 kept`);
  try {
    return parseEntry(name, text, ctx.config.catalog);
  } catch (err) {
    const e = err as InputError;
    throw new InputError(`${shown} is not a valid entry: ${e.message}`, `fix or remove ${shown}, or add the entry again with tm3 add-ip / add-fqdn`);
  }
}

/** Bring a deleted entry back through the same validated change as add-ip/add-fqdn. */
export async function restoreEntry(ctx: Ctx, which: string, dryRun: boolean): Promise<{ backup: Backup; entry: Entry; result: ChangeResult; addresses?: { v4: string[]; v6: string[] } }> {
  const backup = findDeleted(ctx.paths, which);
  const entry = readBackup(ctx, backup);
  if (await entryExists(ctx.paths, entry.name)) {
    throw new InputError(`an entry named ${entry.name} exists again`, `compare it with ${ctx.paths.inServer(backup.file)}; to put the old one back, tm3 del-acct ${entry.name} first (it is kept too), then tm3 restore ${backup.id}`);
  }
  // a name is looked up again, keeping its last good addresses if DNS does not answer now
  let hostRecord;
  if (entry.host) {
    const [{ lookupHost }, { ownAddresses }] = await Promise.all([import('../resolve/dns.js'), import('./own-addresses.js')]);
    const { cache } = await readCache(ctx.paths);
    const answer = await lookupHost(entry.host, { ...ctx.config.dns, own: await ownAddresses(ctx) });
    hostRecord = mergeAnswer(cache[entry.host], answer, new Date().toISOString(), ctx.config.dns.maxAddresses);
    if (hostRecord.error) ctx.out.warn(`${entry.host} does not resolve now (${hostRecord.error}); ${hostRecord.v4.length + hostRecord.v6.length ? 'its last good addresses are whitelisted' : 'it is whitelisted when it does'}`);
  }
  const result = await changeEntry(ctx, { add: entry, hostRecord }, dryRun);
  // restored: the copy would only offer to restore it twice
  if (!dryRun) await fs.rm(backup.file, { force: true });
  return { backup, entry, result, addresses: hostRecord };
}
