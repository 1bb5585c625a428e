// `npm test`: the whole suite in two mocha runs, then one "N passed, N failed, N skipped" line.
//
// Most lab tests spend their time waiting on probe timeouts and daemons, not on the CPU, so the
// ones with no timing bound run two at a time with the unit tests (mocha --parallel; every lab has its own network
// namespaces, named with its process id, and the cached assets are built under flock). The ones
// whose proof is a time bound or zero loss (revocation within 1 s, a knock's expiry, a flow
// losing no packet, floods, real boots, a terminal's prompts) run alone afterwards, as before:
// a busy machine must not decide their verdict. A file not listed here runs alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TOGETHER = [
  'admin-section', 'core', 'counters', 'entry-index', 'everyday-edits', 'fail-closed', 'fail2ban-missing',
  'failsafe-sets', 'fault-concurrency', 'fault-disk', 'fault-hostile', 'hostile-dns', 'hostile-store',
  // the installer's bounds are generous (a prompt's 3 s window, a rollback within 60 s, a knock
  // within 3 s): a busy machine does not decide them, and alone it was two of the 16 serial minutes
  'installer', 'knock-caps', 'migrate', 'migrate-oracle', 'people-race', 'providers', 'scale', 'spoofing', 'stealth',
  'typos', 'why',
].map((n) => `test/integration/${n}.test.ts`);

const all = fs.readdirSync('test/integration').filter((f) => f.endsWith('.test.ts')).map((f) => `test/integration/${f}`).sort();
const missing = TOGETHER.filter((f) => !all.includes(f));
if (missing.length) {
  console.error(`scripts/run-tests.mjs: listed but not found: ${missing.join(' ')} (fix: update TOGETHER)`);
  process.exit(2);
}
const alone = all.filter((f) => !TOGETHER.includes(f));

// A syntax error in one file makes mocha drop the whole run it is in, with no result for any
// other file of it: say which file, at once.
const { transformSync } = await import('esbuild');
const broken = [];
for (const dir of ['test/unit', 'test/integration', 'test/integration/helpers']) {
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    try { transformSync(fs.readFileSync(path.join(dir, f), 'utf8'), { loader: 'ts', sourcefile: path.join(dir, f) }); } catch (e) { broken.push(e.message.split('\n').slice(0, 3).join('\n')); }
  }
}
if (broken.length) {
  console.error(`scripts/run-tests.mjs: ${broken.length} test file(s) do not parse (fix them first):\n${broken.join('\n')}`);
  console.log(`\n0 passed, ${broken.length} failed, 0 skipped`);
  process.exit(1);
}

const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-test-')), 'summary');
const mocha = (args) => spawnSync('npx', ['mocha', ...args], { stdio: 'inherit', env: { ...process.env, TM3_SUMMARY_FILE: summary } }).status;
const t0 = Date.now();
const codes = [
  mocha(['--parallel', '--jobs', '2', 'test/unit/**/*.test.ts', ...TOGETHER]),
  mocha(alone),
];
const runs = fs.existsSync(summary) ? fs.readFileSync(summary, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const sum = (k) => runs.reduce((n, r) => n + r[k], 0);
console.log(`\nwhole suite: ${runs.length} of 2 mocha runs reported, ${((Date.now() - t0) / 60000).toFixed(1)} min`);
// the one line CI reads: a run that died without reporting counts as a failure
const failed = sum('failures') + (runs.length === 2 ? 0 : 1);
console.log(`\n${sum('passes')} passed, ${failed} failed, ${sum('pending')} skipped`);
process.exit(codes.every((c) => c === 0) && failed === 0 ? 0 : 1);
