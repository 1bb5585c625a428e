import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { restartUnit } from '../../src/apply/system.js';
import { checkUnitsBefore } from '../../src/installer/unit-states.js';
import { isLinkEvent } from '../../src/ops/link-up.js';
import { Paths } from '../../src/store/paths.js';

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

// The install record is a file on disk; what it says becomes systemctl arguments and symlinks.
describe('unit states kept in the install record', () => {
  const paths = new Paths('/srv/box');
  it('keeps only tm3\'s peer units, the three states and their own SysV links under the root', () => {
    const { ok, refused } = checkUnitsBefore(paths, {
      states: { 'knockd.service': 'disabled', 'fail2ban.service': 'enabled', 'ssh.service': 'masked', '--now': 'enabled', 'netfilter-persistent.service': 'static; rm -rf /' },
      rcLinks: [
        '/srv/box/etc/rc2.d/S01knockd -> ../init.d/knockd',
        '/srv/box/etc/rc2.d/S01knockd -> ../init.d/fail2ban', // another script under knockd's name
        '/etc/rc2.d/S01knockd -> ../init.d/knockd', // outside the root
        '/srv/box/etc/passwd -> /dev/null',
        '/srv/box/etc/rc2.d/../../root/x/S01knockd -> ../init.d/knockd',
        42,
      ],
    });
    expect(ok).to.deep.equal({ states: { 'knockd.service': 'disabled', 'fail2ban.service': 'enabled' }, rcLinks: ['/srv/box/etc/rc2.d/S01knockd -> ../init.d/knockd'] });
    expect(refused).to.have.length(8);
  });
  it('a record of another shape (no links, a list, nothing) leaves every unit as it is', () => {
    for (const raw of [{ states: {} }, [], null, 'enabled', { states: ['knockd.service'] }]) {
      expect(checkUnitsBefore(paths, raw).ok).to.deep.equal({ states: {}, rcLinks: [] });
    }
  });
  it('a hook\'s link reasons are link events; a timer or a person is not', () => {
    expect(['if-up:eth0', 'routable:ens3', 'nm:up:eth0'].map(isLinkEvent)).to.deep.equal([true, true, true]);
    expect(['timer', 'manual', 'hook', 'if-upx'].map(isLinkEvent)).to.deep.equal([false, false, false, false]);
  });
});
