// CLI start: tm3 --version and tm3 list --json with 5,000 entries, each beside a bare
// `node -e 0` from the same rounds, run in a lab namespace as the other benchmarks are.
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { Lab, CLI } from '../src/lab/lab.js';
import { writeBulkEntries } from '../src/lab/bulk.js';
import { median, type Section } from './report.js';

const ENTRIES = 5000;
const RUNS = 10;

export async function benchCliStart(): Promise<Section> {
  process.stderr.write(`cli start: tm3 list --json with ${ENTRIES} entries...\n`);
  const lab = await Lab.create(0);
  try {
    writeBulkEntries(lab.root, ENTRIES);
    // Interleaved, one round at a time: load from other work on the machine falls on all three alike.
    const cmds: Record<string, string[]> = {
      node: ['ip', 'netns', 'exec', lab.server.ns, process.execPath, '-e', '0'],
      version: ['ip', 'netns', 'exec', lab.server.ns, process.execPath, CLI, '--root', lab.root, '--version'],
      list: ['ip', 'netns', 'exec', lab.server.ns, process.execPath, CLI, '--root', lab.root, 'list', '--json'],
    };
    const ms: Record<string, number[]> = { node: [], version: [], list: [] };
    for (let i = 0; i < RUNS + 1; i++) {
      for (const [k, [cmd, ...args]] of Object.entries(cmds)) {
        const t0 = performance.now();
        const r = await execa(cmd, args, { reject: false, env: { TM3_NO_SYSLOG: '1', LC_ALL: 'C' } });
        if (r.exitCode !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
        if (i > 0) ms[k].push(performance.now() - t0); // the first round warms the page cache
      }
    }
    const node = Math.round(median(ms.node));
    const version = Math.round(median(ms.version));
    const list = Math.round(median(ms.list));
    const ratio = (x: number) => Math.round((x / node) * 100) / 100;
    const data = { entries: ENTRIES, runs: RUNS, bareNodeMs: node, versionMs: version, listJsonMs: list, versionRatio: ratio(version), listJsonRatio: ratio(list) };
    return {
      name: 'cli-start',
      data,
      lines: [
        `CLI start (median of ${RUNS}, interleaved, each through ip netns exec):`,
        `  bare node -e 0: ${node} ms`,
        `  tm3 --version: ${version} ms = ${ratio(version)}x bare node (goal: at most 1.3x)`,
        `  tm3 list --json, ${ENTRIES} entries: ${list} ms = ${ratio(list)}x bare node (goal: at most 2.5x)`,
      ],
    };
  } finally {
    await lab.destroy();
  }
}
