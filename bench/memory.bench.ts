// Memory: peak RSS of `tm3 restart` and `tm3 refresh` with 20,000 entries, beside a bare
// `node -e 0`, each measured by GNU time (wait4's ru_maxrss: the largest peak of the process
// and every child it waited for, so an ipset or iptables-restore child counts too).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { Lab, CLI } from '../src/lab/lab.js';
import { writeBulkEntries } from '../src/lab/bulk.js';
import { median, type Section } from './report.js';

const ENTRIES = Number(process.env.TM3_BENCH_MEMORY_ENTRIES ?? 20_000);
const RUNS = 3;
const TIME = '/usr/bin/time';

/** Peak RSS in MiB of one command run in the lab server's namespace. */
async function peakMiB(lab: Lab, args: string[]): Promise<number> {
  const out = path.join(lab.root, 'time.out');
  const r = await execa('ip', ['netns', 'exec', lab.server.ns, TIME, '-f', '%M', '-o', out, ...args], {
    reject: false, input: '', env: { TM3_NO_SYSLOG: '1', LC_ALL: 'C' },
  });
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')}: exit ${r.exitCode} ${r.stderr}`);
  return Number(fs.readFileSync(out, 'utf8').trim().split('\n').pop()) / 1024;
}

export async function benchMemory(): Promise<Section> {
  if (!fs.existsSync(TIME)) throw new Error(`the memory section needs GNU time at ${TIME} (apt-get install time)`);
  process.stderr.write(`memory: tm3 restart and refresh with ${ENTRIES} entries...\n`);
  const lab = await Lab.create(0);
  try {
    lab.writeConfig();
    writeBulkEntries(lab.root, ENTRIES);
    const tm3 = (cmd: string) => [process.execPath, CLI, '--root', lab.root, cmd];
    const runs = { node: [] as number[], restart: [] as number[], refresh: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      runs.node.push(await peakMiB(lab, [process.execPath, '-e', '0']));
      await lab.wipeKernel(); // as at boot: every set and rule loaded from nothing
      runs.restart.push(await peakMiB(lab, tm3('restart')));
      runs.refresh.push(await peakMiB(lab, tm3('refresh')));
    }
    const m = (xs: number[]) => Number(median(xs).toFixed(1));
    const data = {
      entries: ENTRIES, runs: RUNS, nodeMiB: m(runs.node), restartMiB: m(runs.restart), refreshMiB: m(runs.refresh),
      all: runs, goalMiB: 150,
    };
    const ratio = (x: number) => (x / data.nodeMiB).toFixed(1);
    return {
      name: 'memory',
      data,
      lines: [
        `memory: peak RSS (GNU time, largest of the process and its children), median of ${RUNS}, ${ENTRIES} entries`,
        `  tm3 restart   ${String(data.restartMiB).padStart(6)} MiB  (${ratio(data.restartMiB)}x bare node)`,
        `  tm3 refresh   ${String(data.refreshMiB).padStart(6)} MiB  (${ratio(data.refreshMiB)}x bare node)`,
        `  node -e 0     ${String(data.nodeMiB).padStart(6)} MiB`,
        `  goal: under 150 MiB: ${data.restartMiB < 150 && data.refreshMiB < 150 ? 'met' : 'NOT met'}`,
      ],
    };
  } finally {
    await lab.destroy();
  }
}
