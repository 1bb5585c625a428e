import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly } from './access.js';

// Whoever can put a file in the store must not be able to hang tm3, spin it, or whitelist
// through it; whoever plants a link or a file where tm3 writes must not steer the write.

describe('hostile store and planted files (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let friend: Host, stranger: Host;
  const R = (f: string) => path.join(lab.root, f);
  const tm3 = async (args: string[]) => {
    const t = Date.now();
    const r = await lab.tm3(args);
    return { ...r, ms: Date.now() - t };
  };

  before(async function () {
    requireLab(this, ['mkfifo', 'mknod']);
    lab = await Lab.create(2);
    [friend, stranger] = lab.clients;
    await lab.startResponder();
    lab.writeConfig();
    expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    expect((await lab.tm3(['add-ip', 'friend', friend.v4, '--services', 'sip'])).exitCode).to.equal(0);
    // the planted files
    await execa('mkfifo', [R('root/fifo.iptables')]);
    fs.symlinkSync('/dev/zero', R('root/zero.iptables'));
    await execa('mknod', [R('root/dev.iptables'), 'c', '1', '5']);
    fs.mkdirSync(R('root/dir.iptables'));
    fs.writeFileSync(R('root/big.iptables'), `[entry]\naddress=${stranger.v4}\nservices=all\n${'#'.repeat(70 * 1024)}\n`);
    fs.writeFileSync(R('root/other.iptables'), `[entry]\naddress=${stranger.v4}\nservices=all\n`);
    fs.chownSync(R('root/other.iptables'), 1000, 1000);
    fs.writeFileSync(R('root/shared.iptables'), `[entry]\naddress=${stranger.v4}\nservices=all\n`);
    fs.chmodSync(R('root/shared.iptables'), 0o666); // root's, but anyone may edit it
    fs.writeFileSync(R('root/linked-target'), `[entry]\naddress=${stranger.v4}\nservices=all\n`);
    fs.symlinkSync(R('root/linked-target'), R('root/linked.iptables'));
  });
  after(async () => { await lab?.destroy(); });

  it('list, refresh and restart finish at once, skip each planted file with a warning, and whitelist none of them', async () => {
    for (const args of [['list', '--json'], ['refresh'], ['restart']]) {
      const r = await tm3(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
      expect(r.ms, `${args.join(' ')} took ${r.ms} ms`).to.be.below(15_000);
      for (const [name, why] of [['fifo', /a FIFO/], ['zero', /symbolic link/], ['dev', /device/], ['dir', /a directory/], ['big', /under 64 KiB/], ['other', /owned by uid 1000/], ['shared', /writable by group or others/], ['linked', /symbolic link/]] as const) {
        expect(r.stderr, `${args.join(' ')}: ${name}`).to.match(new RegExp(`skipped ${name}\\.iptables: .*${why.source}`));
      }
      if (args[0] === 'list') expect(JSON.parse(r.stdout).map((e: { name: string }) => e.name)).to.deep.equal(['friend']);
    }
    await Promise.all([
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, friend, 4, ['tcp/5060', 'udp/5060']),
    ]);
  });

  it('a store that group or others can write is refused with the fix, and nothing runs', async () => {
    fs.chmodSync(R('root'), 0o775);
    try {
      const r = await tm3(['list']);
      expect(r.exitCode).to.equal(2);
      expect(r.stderr).to.match(/the store \/root is writable by group or others \(mode 775\) \(fix: chmod go-w \/root\)/);
    } finally {
      fs.chmodSync(R('root'), 0o700);
    }
  });

  it('a link planted at knock.FAQ is replaced, not written through; a planted file ends up root-owned with our mode', async () => {
    const victim = R('victim.txt');
    fs.writeFileSync(victim, 'do not touch\n');
    fs.rmSync(R('root/knock.FAQ'), { force: true });
    fs.symlinkSync(victim, R('root/knock.FAQ'));
    expect((await tm3(['knock', 'rotate'])).exitCode).to.equal(0);
    expect(fs.readFileSync(victim, 'utf8')).to.equal('do not touch\n');
    let st = fs.lstatSync(R('root/knock.FAQ'));
    expect(st.isFile(), 'knock.FAQ is a file of its own now').to.equal(true);
    const mode = st.mode & 0o777;

    fs.rmSync(R('root/knock.FAQ'));
    fs.writeFileSync(R('root/knock.FAQ'), 'planted\n', { mode: 0o666 });
    fs.chownSync(R('root/knock.FAQ'), 1000, 1000);
    expect((await tm3(['knock', 'rotate'])).exitCode).to.equal(0);
    st = fs.lstatSync(R('root/knock.FAQ'));
    expect([st.uid, st.mode & 0o777]).to.deep.equal([0, mode]);
    expect(fs.readFileSync(R('root/knock.FAQ'), 'utf8')).to.match(/knock/i);
  });
});
