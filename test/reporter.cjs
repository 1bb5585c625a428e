// The spec reporter, plus a closing "N passed, N failed, N skipped" line that CI reads. Under
// scripts/run-tests.mjs (npm test) each run's figures go to TM3_SUMMARY_FILE instead, and the
// script prints the one line for the whole suite.
const fs = require('node:fs');
const Mocha = require('mocha');

class Tm3Reporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const s = this.stats;
      if (process.env.TM3_SUMMARY_FILE) fs.appendFileSync(process.env.TM3_SUMMARY_FILE, `${JSON.stringify({ passes: s.passes, failures: s.failures, pending: s.pending })}\n`);
      else process.stdout.write(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}

module.exports = Tm3Reporter;
