// Refresh: 300 FQDN entries, 60 of them in a domain whose upstream never answers, against a
// serial resolve loop (the original ipchecker's way) over the same names and DNS server.
// Kernel writes are counted by PATH shims around ipset and the iptables tools.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Lab, DIST, DNS_DOMAIN, DNS_PORT } from '../src/lab/lab.js';
import { writeHostEntries } from '../src/lab/bulk.js';
import { median, type Section } from './report.js';

const LIVE = 240;
const DEAD = 60;
const DEAD_DOMAIN = 'dead.example.org';
const BLACKHOLE_PORT = 5354;
const TIMEOUT_MS = 1000; // lab.writeConfig's [dns] timeout_ms
const RUNS = 3;

const live = Array.from({ length: LIVE }, (_, i) => `live${i}.${DNS_DOMAIN}`);
const dead = Array.from({ length: DEAD }, (_, i) => `gone${i}.${DEAD_DOMAIN}`);
const answers = (shift: number, changed = LIVE) =>
  Object.fromEntries(live.map((h, i) => [h, [`198.51.100.${((i + (i < changed ? shift : 0)) % 250) + 1}`]]));

/** Shims that log every kernel-changing call of ipset and the iptables tools, then run the real one. */
function kernelWriteShims(dir: string, log: string): Record<string, string> {
  fs.mkdirSync(dir, { recursive: true });
  for (const tool of ['ipset', 'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore']) {
    const real = `/usr/sbin/${tool}`;
    // reads (save, list, -S, -C, --test) are not writes
    fs.writeFileSync(path.join(dir, tool), `#!/bin/sh\ncase " $* " in\n  *" save "*|*" list "*|*" -L "*|*" -S"*|*" -C "*|*" --test "*|*" -n "*) ;;\n  *) echo "${tool} $*" >> ${log} ;;\nesac\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  return { PATH: `${dir}:${process.env.PATH}` };
}

const writes = (log: string) => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);

export async function benchRefresh(): Promise<Section> {
  process.stderr.write('refresh: 300 names, 60 behind a dead upstream...\n');
  const lab = await Lab.create(0);
  try {
    const hole = await lab.startDnsBlackhole(BLACKHOLE_PORT);
    await lab.startDns(answers(0), { domain: DEAD_DOMAIN, port: BLACKHOLE_PORT });
    lab.writeConfig();
    writeHostEntries(lab.root, [...live, ...dead]);
    const log = path.join(lab.root, 'kernel-writes.log');
    const env = kernelWriteShims(path.join(lab.root, 'shim'), log);
    const tm3 = async (args: string[]) => {
      const t0 = performance.now();
      const r = await lab.tm3(args, { env });
      if (r.exitCode !== 0) throw new Error(`tm3 ${args.join(' ')}: ${r.stderr}`);
      return { ms: performance.now() - t0, out: r };
    };
    await tm3(['restart']);
    await tm3(['refresh']); // fills the cache and the sets: from here on, nothing changes

    const unchanged: number[] = [];
    let unchangedWrites = 0;
    for (let i = 0; i < RUNS; i++) {
      const before = writes(log);
      unchanged.push((await tm3(['refresh'])).ms);
      unchangedWrites += writes(log) - before;
    }
    // the counter's control: a refresh where 10 names moved must write
    await lab.setDns(answers(7, 10));
    const before = writes(log);
    const changed = await tm3(['refresh', '--json']);
    const changedWrites = writes(log) - before;
    const swapped = JSON.parse(changed.out.stdout).swapped as string[];

    const serial = Number((await lab.exec(lab.server.ns, process.execPath, [path.join(DIST, 'lab/serial-resolve.js'), `127.0.0.1:${DNS_PORT}`, String(TIMEOUT_MS), ...live, ...dead])).stdout);
    const queries = await hole.stop();
    const data = {
      names: LIVE + DEAD, deadNames: DEAD, timeoutMs: TIMEOUT_MS,
      tm3RefreshMs: Math.round(median(unchanged)), tm3RefreshRuns: unchanged.map(Math.round),
      serialLoopMs: serial, timeoutsOfWallTime: Number((median(unchanged) / TIMEOUT_MS).toFixed(2)),
      kernelWritesWhenUnchanged: unchangedWrites, unchangedRuns: RUNS,
      changedRefreshMs: Math.round(changed.ms), kernelWritesWhenChanged: changedWrites, setsSwappedWhenChanged: swapped,
      queriesSwallowedByDeadUpstream: queries,
    };
    return {
      name: 'refresh',
      data,
      lines: [
        `refresh: ${LIVE + DEAD} FQDN entries, ${DEAD} behind an upstream that never answers, [dns] timeout ${TIMEOUT_MS} ms`,
        `  tm3 refresh, nothing changed (median of ${RUNS}): ${data.tm3RefreshMs} ms = ${data.timeoutsOfWallTime} timeouts of wall time (goal <= 2)`,
        `  serial resolve loop over the same names:  ${serial} ms (${(serial / data.tm3RefreshMs).toFixed(0)}x longer)`,
        `  kernel writes when nothing changed: ${unchangedWrites} in ${RUNS} refreshes (goal 0)`,
        `  control, 10 names moved: ${changedWrites} kernel write(s), sets swapped: ${swapped.join(' ') || 'none'}, ${data.changedRefreshMs} ms`,
      ],
    };
  } finally {
    await lab.destroy();
  }
}
