// [fail2ban] enabled (the default) on a box without the fail2ban package: the original restarted
// Fail2Ban "when present", so the rest of the restart, add-ip and doctor must carry on without it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly } from './access.js';

// Everything tm3 and iptables-custom run, but no fail2ban-client.
const TOOLS = ['iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore', 'iptables-save', 'ip6tables-save', 'ipset', 'ip', 'ss', 'sh', 'logger', 'grep', 'sed', 'knockd', 'cat', 'rm', 'mkdir'];

describe('Fail2Ban enabled but not installed (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let bin: string;
  let env: Record<string, string>;

  before(async function () {
    requireLab(this, ['knockd']);
    lab = await Lab.create(2);
    await lab.startResponder();
    lab.writeConfig('', { fail2ban: true });
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-nof2b-'));
    for (const t of TOOLS) {
      const { stdout } = await execa('sh', ['-c', 'command -v "$1"', 'sh', t], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
      fs.symlinkSync(stdout.trim(), path.join(bin, t));
    }
    env = { PATH: bin };
  });
  after(async () => {
    await lab?.destroy();
    if (bin) fs.rmSync(bin, { recursive: true, force: true });
  });

  it('restart warns once and still runs iptables-custom and knockd; add-ip works; doctor names the fix', async () => {
    const [friend, stranger] = lab.clients;
    expect((await execa('sh', ['-c', 'command -v fail2ban-client'], { env, reject: false })).exitCode, 'fail2ban-client hidden').to.not.equal(0);
    const r = await lab.tm3(['restart'], { env });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stderr).to.include('fail2ban is enabled but not installed: apt-get install fail2ban');
    expect(r.stdout).to.match(/fail2ban not installed, iptables-custom ok, knockd/);
    const add = await lab.tm3(['add-ip', 'friend', friend.v4, '--services', 'ssh'], { env });
    expect(add.exitCode, add.stderr).to.equal(0);
    await Promise.all([
      expectOnly(lab, friend, 4, ['tcp/22']),
      expectOnly(lab, stranger, 4, []),
    ]);
    const doc = await lab.tm3(['doctor'], { env });
    expect(doc.exitCode).to.equal(1);
    expect(doc.stdout + doc.stderr).to.include('fail2ban is enabled but not installed (apt-get install fail2ban, or set [fail2ban] enabled = false)');
  });

  it('doctor flags knockd enabled but not running, and restart brings it back', async () => {
    const pid = Number(fs.readFileSync(path.join(lab.root, 'run/tm3/knockd.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const doc = await lab.tm3(['doctor'], { env });
    expect(doc.exitCode).to.equal(1);
    expect(doc.stdout + doc.stderr).to.include('knockd is enabled but not running (tm3 restart starts it, or set [knock] enabled = false)');
    expect((await lab.tm3(['restart'], { env })).exitCode).to.equal(0);
    expect(JSON.parse((await lab.tm3(['knock', 'status', '--json'], { env })).stdout).knockdRunning).to.equal(true);
  });
});
