// Knock to access: from the client's last knock packet to the first SYN the server accepts,
// through the real knockd and its shell fast path (tm3-knock-grant), median over 20 knocks.
import path from 'node:path';
import { Lab, DIST } from '../src/lab/lab.js';
import { median, type Section } from './report.js';

const KNOCKS = 20;

export async function benchKnock(): Promise<Section> {
  process.stderr.write(`knock: ${KNOCKS} knocks...\n`);
  const lab = await Lab.create(1);
  try {
    const [client] = lab.clients;
    await lab.startResponder();
    lab.writeConfig();
    const r = await lab.tm3(['restart']);
    if (r.exitCode !== 0) throw new Error(`tm3 restart: ${r.stderr}`);
    const { sequence } = JSON.parse((await lab.tm3(['knock', 'status', '--json'])).stdout) as { sequence: number[] };
    const times: number[] = [];
    for (let i = 0; i < KNOCKS; i++) {
      // each knock starts from no grant, as a new visitor's would
      await lab.exec(lab.server.ns, 'ipset', ['flush', 'tm3-knock-4']);
      const out = await lab.exec(client.ns, process.execPath, [path.join(DIST, 'lab/knock-timer.js'), lab.server.v4, sequence.join(','), '22']);
      times.push(Number(out.stdout));
      // let knockd's own command finish before the next flush
      await new Promise((res) => setTimeout(res, 300));
    }
    const ok = times.filter((t) => t >= 0);
    const data = { knocks: KNOCKS, granted: ok.length, medianMs: Math.round(median(ok)), minMs: Math.min(...ok), maxMs: Math.max(...ok), times };
    return {
      name: 'knock',
      data,
      lines: [
        `knock to access: last knock packet -> first accepted SYN on tcp/22, real knockd, ${KNOCKS} knocks`,
        `  median ${data.medianMs} ms (min ${data.minMs}, max ${data.maxMs}); ${ok.length} of ${KNOCKS} granted within 5 s (goal: median < 50 ms)`,
      ],
    };
  } finally {
    await lab.destroy();
  }
}
