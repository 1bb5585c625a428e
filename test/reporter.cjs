// The spec reporter, plus a closing "N passed, N failed, N skipped" line that CI reads.
const Mocha = require('mocha');

class Tm3Reporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const s = this.stats;
      process.stdout.write(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}

module.exports = Tm3Reporter;
