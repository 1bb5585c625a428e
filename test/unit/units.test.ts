import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { restartUnit } from '../../src/apply/system.js';

// A stand-in systemctl on PATH (unit test only: the real one needs a booted systemd, which the
// boot tests give): it records its calls and answers is-active with what the test sets.
describe('restarting a daemon unit', () => {
  let dir: string;
  let oldPath: string | undefined;
  const calls = () => fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');
  const fake = (state: string, restartExit = 0) => fs.writeFileSync(path.join(dir, 'systemctl'), `#!/bin/sh\necho "$*" >> ${dir}/calls\ncase "$1" in is-active) echo ${state}; [ ${state} = active ];; restart) echo "Job failed" >&2; exit ${restartExit};; esac\n`, { mode: 0o755 });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-units-'));
    fs.writeFileSync(path.join(dir, 'calls'), '');
    oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath}`;
  });
  afterEach(() => { process.env.PATH = oldPath; fs.rmSync(dir, { recursive: true, force: true }); });

  it('enables it, resets a failed state, restarts it (never try-restart), and reports active', async () => {
    fake('active');
    expect(await restartUnit('fail2ban.service')).to.deep.equal({ active: true, state: 'active' });
    expect(calls()).to.deep.equal(['enable --quiet fail2ban.service', 'reset-failed fail2ban.service', 'restart fail2ban.service', 'is-active fail2ban.service', 'is-active fail2ban.service']);
  });

  it('a daemon that is active when forked and gone a moment later is reported failed, as knockd without its NIC', async () => {
    // first is-active: active (Type=simple, just forked); the second look: failed
    fs.writeFileSync(path.join(dir, 'systemctl'), `#!/bin/sh\necho "$*" >> ${dir}/calls\ncase "$1" in is-active) if [ -e ${dir}/seen ]; then echo failed; exit 3; fi; touch ${dir}/seen; echo active;; esac\n`, { mode: 0o755 });
    expect(await restartUnit('knockd.service')).to.deep.equal({ active: false, state: 'failed' });
  });

  it('a unit that does not come up is reported as systemd says, never as restarted', async () => {
    fake('failed', 1);
    expect(await restartUnit('fail2ban.service')).to.deep.equal({ active: false, state: 'failed (Job failed)' });
  });
});
