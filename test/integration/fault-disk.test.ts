import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { kernelSnapshot, storeSnapshot } from './snapshots.js';

// The whole lab root (store, /etc/iptables, /var/lib/tm3) on a 1 MiB tmpfs mounted on the lab's
// own temp directory, unmounted again in after(). Knocking is off so no daemon keeps a file open.
const STATE_DIRS = ['root', 'etc/iptables', 'var/lib/tm3'];

describe('fault: full disk and read-only root (lab, tmpfs)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let mounted = false;
  const filler = () => path.join(lab.root, 'filler');
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  /** Fill the tmpfs so that exactly `pages` pages stay free. */
  const leaveFree = (pages: number) => {
    fs.rmSync(filler(), { force: true });
    const st = fs.statfsSync(lab.root);
    fs.writeFileSync(filler(), Buffer.alloc(Math.max(0, st.bfree - pages) * st.bsize));
    expect(fs.statfsSync(lab.root).bfree).to.equal(pages);
  };
  /** The command fails with one line naming the fix, and neither the files nor the kernel changed. */
  const failsAndChangesNothing = async (args: string[], want: RegExp) => {
    const store = storeSnapshot(lab, STATE_DIRS);
    const kernel = await kernelSnapshot(lab);
    const r = await lab.tm3(args);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(1);
    expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    expect(r.stderr.trim()).to.match(want);
    expect(storeSnapshot(lab, STATE_DIRS), 'files').to.equal(store);
    expect(await kernelSnapshot(lab), 'kernel').to.equal(kernel);
  };

  before(async function () {
    requireLab(this, ['mount', 'umount']);
    lab = await Lab.create(0);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tm3-fault-disk', lab.root]);
    mounted = true;
    lab.writeConfig('enabled = false\n');
    await ok(['restart']);
    await ok(['add-ip', 'keep1', '203.0.113.1', '--services', 'sip']);
    await ok(['add-fqdn', 'keep2', 'keep.example.net', '--services', 'ssh', '--allow-unresolved']);
  });
  after(async () => {
    if (mounted) {
      const r = await execa('umount', [lab.root], { reject: false });
      if (r.exitCode !== 0) await execa('umount', ['-l', lab.root], { reject: false });
    }
    await lab?.destroy();
  });

  it('disk full: add-ip fails with "free disk space"; the entry files and the kernel are as before', async () => {
    leaveFree(0);
    await failsAndChangesNothing(['add-ip', 'new', '203.0.113.9', '--services', 'sip'], /^tm3: could not write \S+\/new\.iptables: ENOSPC \(fix: free disk space/);
  });

  it('room for the entry but not for the saved sets: the entry is taken back, the kernel untouched', async () => {
    leaveFree(1);
    await failsAndChangesNothing(['add-ip', 'new', '203.0.113.9', '--services', 'sip'], /^tm3: could not write \S+\/etc\/iptables\/ipsets: ENOSPC \(fix: free disk space/);
  });

  it('read-only root: add-ip, del-acct, refresh and restart fail with "remount read-write" and change nothing', async () => {
    fs.rmSync(filler(), { force: true });
    await execa('mount', ['-o', 'remount,ro', lab.root]);
    try {
      for (const args of [['add-ip', 'new', '203.0.113.9'], ['del-acct', 'keep1'], ['refresh'], ['restart']]) {
        await failsAndChangesNothing(args, /^tm3: could not .*: EROFS \(fix: remount the filesystem read-write/);
      }
    } finally {
      await execa('mount', ['-o', 'remount,rw', lab.root]);
    }
    await ok(['add-ip', 'new', '203.0.113.9', '--services', 'sip']);
    expect((await lab.exec(lab.server.ns, 'ipset', ['list', 'tm3-sip-4'])).stdout).to.include('203.0.113.9');
  });
});
