import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { kernelSnapshot, storeSnapshot } from './snapshots.js';

// An admin's typo is refused with one line that names the fix, and changes nothing on disk or
// in the kernel: a misspelt config key that would leave a default in force, and a word too many
// on the command line that would whitelist every port.

describe('typos change nothing (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  const conf = () => path.join(lab.root, 'etc/tm3/tm3.conf');
  const refusedUnchanged = async (args: string[], message: RegExp) => {
    const [k, s] = [await kernelSnapshot(lab), storeSnapshot(lab, ['root', 'etc/iptables'])];
    const r = await lab.tm3(args);
    expect(r.exitCode, r.stderr).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(message);
    expect(await kernelSnapshot(lab)).to.equal(k);
    expect(storeSnapshot(lab, ['root', 'etc/iptables'])).to.equal(s);
  };

  before(async function () {
    requireLab(this);
    lab = await Lab.create(1);
    lab.writeConfig();
    const r = await lab.tm3(['restart']);
    expect(r.exitCode, r.stderr).to.equal(0);
  });
  after(async () => { await lab?.destroy(); });

  it('tm3 add-ip x 198.51.100.9 sip: the extra word is an error, not "every port"', async () => {
    await refusedUnchanged(['add-ip', 'x', '198.51.100.9', 'sip'], /too many arguments for 'add-ip'/);
    expect(fs.existsSync(path.join(lab.root, 'root/x.iptables'))).to.equal(false);
  });

  it('a wide value is refused without allow_wide, and doctor names it even when allowed', async () => {
    const good = fs.readFileSync(conf(), 'utf8');
    try {
      fs.writeFileSync(conf(), `${good}[firewall]\nopen = udp/10000:20000, tcp/1:2000\n`);
      await refusedUnchanged(['restart'], /\[firewall\] open: 2000 tcp ports open to everyone \(fix: narrow it, or write allow_wide = true in \[firewall\]/);
      fs.writeFileSync(conf(), `${good}[firewall]\nopen = udp/10000:20000, tcp/1:2000\nallow_wide = true\n`);
      expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
      const doc = await lab.tm3(['doctor']);
      expect(doc.exitCode).to.equal(1);
      expect(doc.stdout).to.match(/problem: \[firewall\] open: 2000 tcp ports open to everyone \(allowed by allow_wide; narrow it if you can\)/);
    } finally {
      fs.writeFileSync(conf(), good);
      await lab.tm3(['restart']);
    }
  });

  it('a misspelt section or key in tm3.conf stops restart with a did-you-mean, before any change', async () => {
    const good = fs.readFileSync(conf(), 'utf8');
    try {
      fs.appendFileSync(conf(), '[firewal]\nopen = tcp/80\n');
      await refusedUnchanged(['restart'], /unknown section \[firewal\] \(fix: did you mean \[firewall\]\?/);
      fs.writeFileSync(conf(), `${good}[firewall]\nopne = tcp/80\n`);
      await refusedUnchanged(['add-ip', 'y', '198.51.100.10'], /unknown key 'opne' in \[firewall\] \(fix: did you mean open\?/);
    } finally {
      fs.writeFileSync(conf(), good);
    }
  });
});
