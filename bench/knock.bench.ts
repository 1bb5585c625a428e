// Knock to access: from the client's last knock packet to the first SYN the server accepts,
// through the real knockd and its shell fast path (tm3-knock-grant), median over 20 knocks.
// SPA to access: the same, from a person's SPA packet (the real fwknop client builds it) through
// the real fwknopd and `tm3 knock grant --person` (Node) to the first accepted SYN, median of 20.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
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
    const spa = await benchSpa(lab);
    return {
      name: 'knock',
      data: { ...data, spa },
      lines: [
        `knock to access: last knock packet -> first accepted SYN on tcp/22, real knockd, ${KNOCKS} knocks`,
        `  median ${data.medianMs} ms (min ${data.minMs}, max ${data.maxMs}); ${ok.length} of ${KNOCKS} granted within 5 s (goal: median < 50 ms)`,
        ...('skipped' in spa ? [`SPA to access: skipped (${spa.skipped})`] : [
          `SPA to access: SPA packet sent -> first accepted SYN on tcp/22, real fwknop client and fwknopd, ${KNOCKS} packets`,
          `  median ${spa.medianMs} ms (min ${spa.minMs}, max ${spa.maxMs}); ${spa.granted} of ${KNOCKS} granted within 5 s`,
        ]),
      ],
    };
  } finally {
    await lab.destroy();
  }
}

/** A person's SPA packets, each fresh (fwknopd refuses a packet it has seen), timed like the knocks. */
async function benchSpa(lab: Lab): Promise<{ skipped: string } | { granted: number; medianMs: number; minMs: number; maxMs: number; times: number[] }> {
  for (const bin of ['fwknop', 'fwknopd']) if ((await execa('which', [bin], { reject: false })).exitCode !== 0) return { skipped: `${bin} is not installed` };
  process.stderr.write(`knock: ${KNOCKS} SPA packets...\n`);
  const [client] = lab.clients;
  const add = await lab.tm3(['user', 'add', 'bench', '--services', 'ssh']);
  if (add.exitCode !== 0) throw new Error(`tm3 user add: ${add.stderr}`);
  const card = fs.readFileSync(path.join(lab.root, 'root/tm3-users/bench.FAQ'), 'utf8');
  const m = /--key-base64-rijndael (\S+) --key-base64-hmac (\S+)/.exec(card);
  if (!m) throw new Error('no keys on the card');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-bench-spa-'));
  const times: number[] = [];
  try {
    for (let i = 0; i < KNOCKS; i++) {
      // no grant at all, the person's or the site knock's (the knocks above left one)
      for (const set of ['tm3-knock-ssh-4', 'tm3-knock-4']) await lab.exec(lab.server.ns, 'ipset', ['flush', set]);
      const file = path.join(home, `pkt-${i}`);
      // built only (-T), so the clock starts when the timer sends it
      const built = await lab.exec(client.ns, 'env', [`HOME=${home}`, 'fwknop', '-A', 'tcp/22', '-a', client.v4, '-D', lab.server.v4, '--key-base64-rijndael', m[1], '--key-base64-hmac', m[2], '--use-hmac', '--save-packet', file, '--no-save-args', '-T'], { reject: false });
      if (built.exitCode !== 0) throw new Error(`fwknop: ${built.stderr}`);
      const out = await lab.exec(client.ns, process.execPath, [path.join(DIST, 'lab/spa-timer.js'), lab.server.v4, file, '22', '62201']);
      times.push(Number(out.stdout));
      // let tm3 knock grant finish (its records) before the next flush
      await new Promise((res) => setTimeout(res, 1500));
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
  const ok = times.filter((t) => t >= 0);
  return { granted: ok.length, medianMs: Math.round(median(ok)), minMs: Math.min(...ok), maxMs: Math.max(...ok), times };
}
