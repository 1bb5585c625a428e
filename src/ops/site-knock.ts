import fs from 'node:fs/promises';
import { readPeople } from '../store/people.js';
import { expired } from '../model/person.js';
import type { Ctx } from '../cli/context.js';

/**
 * Who still leans on the site sequence (knock.FAQ, shared by everyone who has it): tm3 cannot
 * count the copies handed out, so it says what it can see. The people tm3 knows without a
 * knock of their own, and the site knock's openings in the audit log's current file (logrotate
 * starts a new one each week) with the number of distinct addresses they came from.
 */
export interface SiteKnockShare { people: number; withOwnKnock: number; withoutOwnKnock: string[]; openings: number; addresses: number; since?: string }

export async function siteKnockShare(ctx: Ctx): Promise<SiteKnockShare> {
  const { people } = await readPeople(ctx.paths, ctx.config.catalog);
  const live = people.filter((p) => !expired(p));
  const text = await fs.readFile(ctx.paths.auditLog, 'utf8').catch(() => '');
  let openings = 0;
  let since: string | undefined;
  const addresses = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.includes('"person":null')) continue;
    try {
      const o = JSON.parse(line) as { at?: unknown; person?: unknown; address?: unknown; method?: unknown; entry?: unknown };
      if (o.person !== null || o.method !== 'knock' || typeof o.address !== 'string' || o.entry !== undefined) continue;
      openings++;
      addresses.add(o.address);
      if (since === undefined && typeof o.at === 'string') since = o.at;
    } catch { /* a torn line counts for nothing */ }
  }
  return { people: live.length, withOwnKnock: live.filter((p) => p.knock).length, withoutOwnKnock: live.filter((p) => !p.knock).map((p) => p.name), openings, addresses: addresses.size, ...(since ? { since } : {}) };
}
