import { expect } from 'chai';
import { Lab, DNS_DOMAIN } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

const names = [0, 1, 2].map((i) => `other${i}.${DNS_DOMAIN}`);
const answers = (round: number) => Object.fromEntries(names.map((n, i) => [n, [`198.51.100.${10 * i + (round % 10) + 1}`, `2001:db8:77::${i}:${round + 1}`]]));

describe('fault: a whitelisted client loses no packet while the whitelist changes (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  let client: Lab['server'];
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  /** Run `work` while the client probes tcp+udp 5060 over v4 and v6; how many probes went unanswered. */
  const lostDuring = async (work: () => Promise<void>) => {
    // a probe waits 800 ms: a busy machine answers late, a dropped packet never (TCP retries after 1 s)
    const loops = [await lab.probeLoop(client, 4, 5060, 5060, 800), await lab.probeLoop(client, 6, 5060, 5060, 800)];
    let counts: { attempts: number; through: number }[] = [];
    try {
      await work();
    } finally {
      // stopped even when work() failed, so no probe loop outlives the test
      counts = await Promise.all(loops.map((l) => l.stop()));
    }
    return { attempts: counts.reduce((a, c) => a + c.attempts, 0), lost: counts.reduce((a, c) => a + c.attempts - c.through, 0) };
  };

  before(async function () {
    requireLab(this);
    lab = await Lab.create(1);
    [client] = lab.clients;
    await lab.startResponder();
    await lab.startDns(answers(0));
    lab.writeConfig();
    await ok(['restart']);
    await ok(['add-ip', 'client', client.v4, '--services', 'sip']);
    await ok(['add-ip', 'client6', client.v6, '--services', 'sip']);
    for (const [i, n] of names.entries()) await ok(['add-fqdn', `other${i}`, n, '--services', 'sip']);
  });
  after(async () => { await lab?.destroy(); });

  it('refreshes that change other entries, and adds and deletes of others: no probe lost', async () => {
    const { attempts, lost } = await lostDuring(async () => {
      for (let round = 1; round <= 5; round++) {
        await lab.setDns(answers(round));
        const r = await ok(['refresh', '--json']);
        expect(JSON.parse(r.stdout).swapped, 'the refresh swapped sets').to.include('tm3-sip-4');
        await ok(['add-ip', `temp${round}`, `203.0.113.${round}`, '--services', 'sip']);
        await ok(['add-ip', `temp6-${round}`, `2001:db8:99::${round}`, '--services', 'sip,web']);
        await ok(['del-acct', `temp${round}`]);
      }
    });
    console.log(`      whitelist changes: ${lost} of ${attempts} probes lost`);
    expect(attempts).to.be.greaterThan(20);
    expect(lost).to.equal(0);
  });

  it('tm3 restart (rules.v4/v6 replaced in one transaction, sets unchanged): no probe lost', async () => {
    const { attempts, lost } = await lostDuring(async () => {
      for (let i = 0; i < 3; i++) await ok(['restart']);
    });
    console.log(`      tm3 restart x3: ${lost} of ${attempts} probes lost`);
    expect(attempts).to.be.greaterThan(10);
    expect(lost).to.equal(0);
  });
});
