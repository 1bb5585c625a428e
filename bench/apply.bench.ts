// Apply cost: tm3 restart (sets + a fixed chain) beside the original's way (one ip6tables -A
// per entry), each in a fresh lab namespace, in the same run.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Lab } from '../src/lab/lab.js';
import { writeBulkEntries, originalScript } from '../src/lab/bulk.js';
import { median, type Section } from './report.js';

const SIZES = (process.env.TM3_BENCH_SIZES ?? '0,2000,20000').split(',').map(Number);
const RUNS = 7;

const ruleCount = async (lab: Lab, chain?: string) =>
  (await lab.exec(lab.server.ns, 'ip6tables', ['-S', ...(chain ? [chain] : [])])).stdout.split('\n').filter((l) => l.startsWith('-A')).length;

/** Median of RUNS restarts, each into an empty kernel (as at boot or in a fresh namespace). */
async function timeTm3(n: number): Promise<{ ms: number; rules: number; inputRules: number }> {
  const lab = await Lab.create(0);
  try {
    // Fail2Ban off: its start-up costs the same at every N but varies by hundreds of ms, which
    // would drown the per-entry figure. The whitelist path (sets, rules, iptables-custom) is all in.
    lab.writeConfig();
    writeBulkEntries(lab.root, n);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await lab.wipeKernel();
      const t0 = performance.now();
      const r = await lab.tm3(['restart']);
      times.push(performance.now() - t0);
      if (r.exitCode !== 0) throw new Error(`tm3 restart failed: ${r.stderr}`);
    }
    return { ms: median(times), rules: await ruleCount(lab), inputRules: await ruleCount(lab, 'INPUT') };
  } finally {
    await lab.destroy();
  }
}

async function timeOriginal(n: number): Promise<{ ms: number; inputRules: number }> {
  const lab = await Lab.create(0);
  try {
    const script = path.join(lab.root, 'original-iptables-custom');
    fs.writeFileSync(script, originalScript(n));
    const t0 = performance.now();
    await lab.exec(lab.server.ns, 'sh', ['-e', script]);
    const ms = performance.now() - t0;
    return { ms, inputRules: await ruleCount(lab, 'INPUT') };
  } finally {
    await lab.destroy();
  }
}

export async function benchApply(): Promise<Section> {
  const rows = [];
  for (const n of SIZES) {
    process.stderr.write(`apply: ${n} entries...\n`);
    const t = await timeTm3(n);
    const o = await timeOriginal(n);
    rows.push({ entries: n, tm3RestartMs: Math.round(t.ms), tm3Rules: t.rules, tm3InputRules: t.inputRules, originalMs: Math.round(o.ms), originalInputRules: o.inputRules });
  }
  const base = rows.find((r) => r.entries === 0);
  const withPer = rows.map((r) => {
    const tPer = r.entries && base ? (r.tm3RestartMs - base.tm3RestartMs) / r.entries : null;
    const oPer = r.entries && base ? (r.originalMs - base.originalMs) / r.entries : null;
    return { ...r, tm3UsPerEntry: tPer === null ? null : Math.round(tPer * 1000), originalUsPerEntry: oPer === null ? null : Math.round(oPer * 1000), ratio: tPer && oPer && tPer > 0 ? Math.round(oPer / tPer) : null };
  });
  const lines = [
    `apply cost: tm3 restart (median of ${RUNS}, empty kernel each time) vs the original (one ip6tables -A per entry)`,
    'entries   tm3 restart   rules (INPUT)   original   INPUT rules   tm3 per entry   original per entry   ratio',
    ...withPer.map((r) => `${String(r.entries).padStart(7)}   ${`${r.tm3RestartMs} ms`.padStart(11)}   ${`${r.tm3Rules} (${r.tm3InputRules})`.padStart(13)}   ${`${r.originalMs} ms`.padStart(8)}   ${String(r.originalInputRules).padStart(11)}   ${(r.tm3UsPerEntry === null ? '-' : `${r.tm3UsPerEntry} us`).padStart(13)}   ${(r.originalUsPerEntry === null ? '-' : `${r.originalUsPerEntry} us`).padStart(18)}   ${r.ratio ? `${r.ratio}x` : '-'}`),
    'goal: >= 100x lower per entry; tm3 rule count independent of N',
  ];
  return { name: 'apply', data: withPer, lines };
}
