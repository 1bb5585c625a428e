// npm run bench: every benchmark section in one run, inside lab namespaces; prints the tables
// and writes one JSON file to bench/results/. TM3_BENCH=apply,refresh,knock,cli,flood,bans,memory picks sections.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execaSync } from 'execa';
import { benchApply } from './apply.bench.js';
import { benchRefresh } from './refresh.bench.js';
import { benchKnock } from './knock.bench.js';
import { benchCliStart } from './cli-start.bench.js';
import { benchFlood } from './flood.bench.js';
import { benchBans } from './bans.bench.js';
import { benchMemory } from './memory.bench.js';
import type { Section } from './report.js';

const SECTIONS: Record<string, () => Promise<Section>> = { apply: benchApply, refresh: benchRefresh, knock: benchKnock, cli: benchCliStart, flood: benchFlood, bans: benchBans, memory: benchMemory };

if (process.getuid?.() !== 0) {
  console.error('npm run bench needs root (it builds network namespaces)');
  process.exit(3);
}
const wanted = (process.env.TM3_BENCH ?? Object.keys(SECTIONS).join(',')).split(',');
const results: Section[] = [];
for (const name of wanted) {
  if (!SECTIONS[name]) throw new Error(`unknown benchmark '${name}'; pick from ${Object.keys(SECTIONS).join(', ')}`);
  results.push(await SECTIONS[name]());
}
for (const s of results) console.log(`\n${s.lines.join('\n')}`);

const version = (cmd: string, args: string[]) => { try { return execaSync(cmd, args).stdout.split('\n')[0]; } catch { return 'unknown'; } };
const machine = {
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version,
  iptables: version('iptables', ['--version']), ipset: version('ipset', ['--version']), load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
};
const out = path.resolve('bench/results');
fs.mkdirSync(out, { recursive: true });
const file = path.join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, sections: Object.fromEntries(results.map((s) => [s.name, s.data])) }, null, 2)}\n`);
console.log(`\nmachine: ${machine.cpus}, ${machine.memoryGiB} GiB, kernel ${machine.kernel}, ${machine.iptables}, ${machine.ipset}, Node ${machine.node}, load ${machine.load}`);
console.log(`written to ${path.relative(process.cwd(), file)}`);
