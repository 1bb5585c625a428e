import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { writeBulkEntries } from '../../src/lab/bulk.js';
import { requireLab } from './prereq.js';
import { expectOnly } from './access.js';

describe('scale: 20,000 entries (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  before(async function () {
    requireLab(this);
    lab = await Lab.create(2);
    await lab.startResponder();
  });
  after(async () => { await lab?.destroy(); });

  it('8. keeps the INPUT chain at a few dozen rules, and the last entry still gets in', async () => {
    writeBulkEntries(lab.root, 20_000);
    const [friend, stranger] = lab.clients;
    let r = await lab.tm3(['add-ip', 'friend', friend.v6, '--services', 'sip']);
    expect(r.exitCode, r.stderr).to.equal(0);
    r = await lab.tm3(['restart']);
    expect(r.exitCode, r.stderr).to.equal(0);
    for (const bin of ['iptables', 'ip6tables']) {
      const rules = (await lab.exec(lab.server.ns, bin, ['-S'])).stdout.split('\n').filter((l) => l.startsWith('-A'));
      // what an inbound packet walks: INPUT and the whitelist chain; the OUTPUT quiet chain is
      // walked only by the server's own ICMP errors, and none of it grows with the whitelist
      const walked = rules.filter((l) => /^-A (INPUT|TM3-WHITELIST) /.test(l));
      expect(walked.length, `${bin} INPUT + TM3-WHITELIST rule count`).to.be.within(10, 40);
      expect(rules.length, `${bin} rule count, every chain`).to.be.below(70);
    }
    const members = (await lab.exec(lab.server.ns, 'ipset', ['list', 'tm3-sip-6', '-t'])).stdout;
    expect(members).to.match(/Number of entries: 20001/);
    await Promise.all([
      expectOnly(lab, friend, 6, ['tcp/5060', 'udp/5060']),
      expectOnly(lab, stranger, 6, []),
    ]);
  });
});
