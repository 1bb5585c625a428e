import fs from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import type { Paths } from './paths.js';

/** One opening: who (a person, or the shared site knock), from where, how, to what, for how long. */
export interface Opening {
  at: string;
  person: string | null;
  address: string;
  method: 'knock' | 'spa' | 'callin';
  services: string[];
  seconds: number;
  /** the permanent entry it made, if any */
  entry?: string;
}

/**
 * Append one JSON line to /var/log/tm3/access.jsonl (logrotate rotates it). Opened without
 * following a link, appended whole in one write, mode 600: who got in from where is private.
 */
export async function appendOpening(paths: Paths, o: Opening): Promise<void> {
  await fs.mkdir(path.dirname(paths.auditLog), { recursive: true, mode: 0o750 });
  const fh = await fs.open(paths.auditLog, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.write(`${JSON.stringify(o)}\n`);
  } finally {
    await fh.close();
  }
}

/** A one-line form for syslog. */
export const openingLine = (o: Opening) => `access: ${o.person ? `person ${o.person}` : 'site knock'} from ${o.address} by ${o.method}, ${o.services.join(',')} for ${o.seconds}s${o.entry ? `, permanent entry ${o.entry}` : ''}`;
