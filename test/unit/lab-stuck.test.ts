import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { stuckReport } from '../../src/lab/lab.js';

// lab.tm3 prints this when a call runs past a minute: the next hang in CI says where it waits.
describe('lab: a stuck call says where it waits', () => {
  it('names the process and its children, each with its state and kernel wait channel', async () => {
    const c = spawn('sh', ['-c', 'sleep 31 & sleep 32; wait'], { stdio: 'ignore', detached: true });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const text = stuckReport(c.pid, 'tm3 provider list');
      expect(text).to.match(/^lab: tm3 provider list is still running after 60 s/);
      expect(text).to.match(new RegExp(`\\n  ${c.pid} S \\(sleeping\\) wchan=do_wait .*sh -c sleep 31`));
      expect(text).to.match(/\n    \d+ S \(sleeping\) wchan=\S*nanosleep.* sleep 31\n/);
      expect(text).to.match(/\n    \d+ S \(sleeping\) wchan=\S*nanosleep.* sleep 32\n/);
    } finally {
      process.kill(-c.pid!, 'SIGKILL'); // the sleeps too
    }
  });
});
