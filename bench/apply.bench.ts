// npm run bench: the apply cost of tm3 (sets + a fixed chain) beside the original's way
// (one iptables -A per entry), measured in the same run inside lab namespaces.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Lab } from '../src/lab/lab.js';
import { writeBulkEntries, originalScript } from '../src/lab/bulk.js';

const SIZES = (process.env.TM3_BENCH_SIZES ?? '0,2000,20000').split(',').map(Number);

interface Row { entries: number; tm3RestartMs: number; tm3InputRules: number; originalMs: number; originalInputRules: number }

async function timeTm3(n: number): Promise<{ ms: number; rules: number }> {
  const lab = await Lab.create(0);
  try {
    writeBulkEntries(lab.root, n);
    const t0 = performance.now();
    const r = await lab.tm3(['restart']);
    const ms = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`tm3 restart failed: ${r.stderr}`);
    const rules = (await lab.exec(lab.server.ns, 'ip6tables', ['-S'])).stdout.split('\n').filter((l) => l.startsWith('-A')).length;
    return { ms, rules };
  } finally {
    await lab.destroy();
  }
}

async function timeOriginal(n: number): Promise<{ ms: number; rules: number }> {
  const lab = await Lab.create(0);
  try {
    const script = path.join(lab.root, 'original-iptables-custom');
    fs.writeFileSync(script, originalScript(n));
    const t0 = performance.now();
    await lab.exec(lab.server.ns, 'sh', ['-e', script]);
    const ms = performance.now() - t0;
    const rules = (await lab.exec(lab.server.ns, 'ip6tables', ['-S', 'INPUT'])).stdout.split('\n').filter((l) => l.startsWith('-A')).length;
    return { ms, rules };
  } finally {
    await lab.destroy();
  }
}

if (process.getuid?.() !== 0) {
  console.error('npm run bench needs root (it builds network namespaces)');
  process.exit(3);
}
const rows: Row[] = [];
for (const n of SIZES) {
  process.stderr.write(`measuring ${n} entries...\n`);
  const t = await timeTm3(n);
  const o = await timeOriginal(n);
  rows.push({ entries: n, tm3RestartMs: Math.round(t.ms), tm3InputRules: t.rules, originalMs: Math.round(o.ms), originalInputRules: o.rules });
}

const base = rows.find((r) => r.entries === 0);
console.log('\napply cost: tm3 restart vs the original (one ip6tables -A per entry)\n');
console.log('entries   tm3 restart   rules   original   rules   tm3 per entry   original per entry   ratio');
for (const r of rows) {
  const per = (ms: number, b: number) => (r.entries ? (ms - b) / r.entries : NaN);
  const tPer = per(r.tm3RestartMs, base?.tm3RestartMs ?? 0);
  const oPer = per(r.originalMs, base?.originalMs ?? 0);
  const fmt = (x: number) => (Number.isNaN(x) ? '-' : `${(x * 1000).toFixed(1)} us`);
  console.log(`${String(r.entries).padStart(7)}   ${`${r.tm3RestartMs} ms`.padStart(11)}   ${String(r.tm3InputRules).padStart(5)}   ${`${r.originalMs} ms`.padStart(8)}   ${String(r.originalInputRules).padStart(5)}   ${fmt(tPer).padStart(13)}   ${fmt(oPer).padStart(18)}   ${r.entries && tPer > 0 ? `${(oPer / tPer).toFixed(0)}x` : '-'}`);
}
const out = path.resolve('bench/results');
fs.mkdirSync(out, { recursive: true });
const file = path.join(out, `apply-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`);
console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
