import ipaddr from 'ipaddr.js';
import { entryAddresses } from '../plan/sets.js';
import { netContains } from '../model/address.js';
import type { Ctx } from '../cli/context.js';
import { loadState } from './state.js';
import { liveGrants, type Grant } from './grants.js';

/** What holds one address: entries at exactly it (FQDNs by their answer), its grant, and networks that cover it. */
export async function holding(ctx: Ctx, address: string): Promise<{ entries: string[]; grants: Grant[]; covering: string[] }> {
  const a = ipaddr.process(address);
  const exact = `${a.toString()}/${a.kind() === 'ipv4' ? 32 : 128}`;
  const { entries, cache } = await loadState(ctx);
  const held: string[] = [];
  const covering: string[] = [];
  for (const e of entries) {
    const cidrs = entryAddresses(e, cache);
    if (cidrs.includes(exact)) held.push(e.name);
    else if (cidrs.some((c) => netContains(c, address))) covering.push(e.name);
  }
  const grants = (await liveGrants()).filter((g) => ipaddr.process(g.address).toString() === a.toString());
  return { entries: held, grants, covering };
}
