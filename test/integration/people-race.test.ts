import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { reachable } from './access.js';

// A revoke that runs while a person's permanent opening waits for tm3's lock has already
// collected that person's entries; the opening must not make one after it (red team: it did,
// and the revoked person stayed whitelisted for good).
describe('a revoke racing a permanent opening (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let erin: Host;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  before(async function () {
    requireLab(this, ['knockd', 'fwknopd']);
    lab = await Lab.create(1);
    [erin] = lab.clients;
    await lab.startResponder();
    lab.writeConfig('grant_seconds = 60\nservices = ssh\n');
    await ok(['restart']);
  });
  after(async () => { await lab?.destroy(); });

  it('the opening that waited for the lock is taken back: no entry, no access', async () => {
    await ok(['user', 'add', 'erin', '--services', 'ssh', '--permanent', 'yes']);
    // a lock holder the opening must wait for (a pid in another namespace counts as alive)
    const lock = path.join(lab.root, 'var/lib/tm3/tm3.lock');
    fs.symlinkSync('- 0 1 -', lock);
    const opening = lab.tm3(['knock', 'grant', erin.v4, '--from', erin.v4, '--method', 'spa', '--person', 'erin']);
    await new Promise((r) => setTimeout(r, 4000));
    process.kill(opening.pid!, 'SIGSTOP');
    fs.unlinkSync(lock);
    await ok(['user', 'revoke', 'erin']);
    process.kill(opening.pid!, 'SIGCONT');
    const r = await opening;
    expect(r.exitCode, r.stdout).to.not.equal(0);
    expect(r.stderr).to.match(/person erin was revoked while their opening ran/);
    expect((await ok(['list'])).stdout).to.not.match(/erin-/);
    expect((await reachable(lab, erin, 4, ['tcp/22']))['tcp/22']).to.equal(false);
  });
});
