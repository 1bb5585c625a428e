// Probe helpers: one probe process per client and family, one assertion per table.
import { expect } from 'chai';
import type { Lab, Host } from '../../src/lab/lab.js';

export type Port = 'tcp/22' | 'tcp/80' | 'tcp/5060' | 'udp/5060' | 'udp/4569' | 'udp/10000' | 'tcp/9001';
export const PORTS: Port[] = ['tcp/22', 'tcp/80', 'tcp/5060', 'udp/5060', 'udp/4569', 'tcp/9001'];

/** Which of `ports` the client reaches on the server, as a port -> boolean table. */
export async function reachable(lab: Lab, client: Host, family: 4 | 6, ports: Port[] = PORTS): Promise<Record<string, boolean>> {
  const host = family === 4 ? lab.server.v4 : lab.server.v6;
  const outcomes = await lab.probe(client, ports.map((p) => ({ proto: p.split('/')[0] as 'tcp' | 'udp', port: Number(p.split('/')[1]), host })));
  return Object.fromEntries(ports.map((p, i) => [p, outcomes[i] === 'open' || outcomes[i] === 'refused']));
}

/** Assert exactly these ports are reachable (all others in PORTS are not). */
export async function expectOnly(lab: Lab, client: Host, family: 4 | 6, open: Port[], ports: Port[] = PORTS): Promise<void> {
  const got = await reachable(lab, client, family, ports);
  const want = Object.fromEntries(ports.map((p) => [p, open.includes(p)]));
  expect(got, `${client.ns} over IPv${family}`).to.deep.equal(want);
}
