// CLI start: tm3 list --json with 5,000 entries, and a bare tm3 --version for the floor,
// run in a lab namespace as the other benchmarks are.
import { performance } from 'node:perf_hooks';
import { Lab } from '../src/lab/lab.js';
import { writeBulkEntries } from '../src/lab/bulk.js';
import { median, type Section } from './report.js';

const ENTRIES = 5000;
const RUNS = 10;

export async function benchCliStart(): Promise<Section> {
  process.stderr.write(`cli start: tm3 list --json with ${ENTRIES} entries...\n`);
  const lab = await Lab.create(0);
  try {
    writeBulkEntries(lab.root, ENTRIES);
    const time = async (args: string[]) => {
      const ms: number[] = [];
      for (let i = 0; i < RUNS + 1; i++) {
        const t0 = performance.now();
        const r = await lab.tm3(args);
        if (r.exitCode !== 0) throw new Error(`tm3 ${args.join(' ')}: ${r.stderr}`);
        if (i > 0) ms.push(performance.now() - t0); // the first run warms the page cache
      }
      return Math.round(median(ms));
    };
    const nsFloor = await time(['--version']);
    const list = await time(['list', '--json']);
    const data = { entries: ENTRIES, runs: RUNS, listJsonMs: list, versionMs: nsFloor };
    return {
      name: 'cli-start',
      data,
      lines: [
        `CLI start (median of ${RUNS}, through ip netns exec):`,
        `  tm3 list --json, ${ENTRIES} entries: ${list} ms (goal < 250 ms);  tm3 --version: ${nsFloor} ms`,
      ],
    };
  } finally {
    await lab.destroy();
  }
}
