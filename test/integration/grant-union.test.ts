import { expect } from 'chai';
import { Lab, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, reachable, type Port } from './access.js';

// Issue 17, flood: the stranger's shortcut out of TM3-WHITELIST tests two unions, the whitelist's
// (tm3-known) and the live grants' (tm3-granted), and every knock grant rule comes after it, so a
// stranger walks none of them. The grant union is only a filter: the per-service grant sets still
// decide. So a grant opens exactly the person's services through the new order, an address put in
// the union by hand gets nothing (a design where the union itself accepted would let it in), and a
// grant whose address is missing from the union gets nothing either (fails closed) until
// `tm3 restart` puts every live grant back in the union. Real knockd, real packets, v4 and v6.

const GRANT = 120;
const SIP: Port[] = ['tcp/5060', 'udp/5060'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the grant union in the stranger\'s shortcut (lab)', function () {
  this.timeout(240_000);
  let lab: Lab;
  let bob: Host, carol: Host, stranger: Host, spare: Host;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const ipset = (args: string[]) => lab.exec(lab.server.ns, 'ipset', args);
  /** timed set -> seconds left, for each tm3 set holding `address` */
  const holding = async (address: string) => {
    const out = (await ipset(['save'])).stdout;
    return Object.fromEntries([...out.matchAll(/^add (tm3-\S+) (\S+) timeout (\d+)/gm)].filter((m) => m[2] === address).map((m) => [m[1], Number(m[3])]));
  };
  const opensWithin = async (c: Host, family: 4 | 6, port: Port, ms: number) => {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      if ((await reachable(lab, c, family, [port]))[port]) return true;
      await sleep(100);
    }
    return false;
  };
  const bobKnock = async () => (JSON.parse((await ok(['user', 'list', '--json'])).stdout) as { name: string; knock: number[] }[]).find((p) => p.name === 'bob')!.knock;

  before(async function () {
    requireLab(this, ['knockd']);
    lab = await Lab.create(4);
    [bob, carol, stranger, spare] = lab.clients;
    await lab.startResponder();
    // the site knock reaches ssh and sip; bob's own grants (sip) are shorter than the site's
    lab.writeConfig(`grant_seconds = ${GRANT}\nservices = ssh,sip\n`);
    await ok(['restart']);
    await ok(['user', 'add', 'bob', '--services', 'sip', '--grant', '1m']);
  });
  after(async () => { await lab?.destroy(); });

  it('TM3-WHITELIST: the stranger\'s RETURN tests both unions and comes before every grant rule (v4 and v6)', async () => {
    for (const [cmd, fam] of [['iptables', 4], ['ip6tables', 6]] as const) {
      const rules = (await lab.exec(lab.server.ns, cmd, ['-S', 'TM3-WHITELIST'])).stdout.split('\n').filter((l) => l.startsWith('-A '));
      const ret = rules.findIndex((l) => l.includes(`! --match-set tm3-known-${fam} src`) && l.includes(`! --match-set tm3-granted-${fam} src`) && l.endsWith('-j RETURN'));
      expect(ret, rules.join('\n')).to.equal(0);
      const grantRules = rules.map((l, i) => [l, i] as const).filter(([l]) => /--match-set tm3-knock-\S+ src/.test(l));
      expect(grantRules.length).to.be.above(2);
      for (const [, i] of grantRules) expect(i).to.be.above(ret);
    }
  });

  it("bob's knock (real knockd, fast path) opens sip only, v4 and v6; his address is in the union for the longest grant; a stranger gets nothing", async () => {
    const seq = await bobKnock();
    await lab.knock(bob, seq, 4);
    expect(await opensWithin(bob, 4, 'udp/5060', 3000), 'bob v4 sip').to.equal(true);
    await expectOnly(lab, bob, 4, SIP);
    await lab.knock(bob, seq, 6);
    expect(await opensWithin(bob, 6, 'tcp/5060', 3000), 'bob v6 sip').to.equal(true);
    await expectOnly(lab, bob, 6, SIP);
    for (const [addr, fam] of [[bob.v4, 4], [bob.v6, 6]] as const) {
      const h = await holding(addr);
      expect(Object.keys(h).sort(), addr).to.deep.equal([`tm3-granted-${fam}`, `tm3-knock-sip-${fam}`]);
      // bob's grant is 60 s; the union holds him for [knock] grant_seconds, so a shorter grant
      // renewing the member never ends it before a longer grant of another set
      expect(h[`tm3-knock-sip-${fam}`]).to.be.at.most(60);
      expect(h[`tm3-granted-${fam}`]).to.be.above(60).and.at.most(GRANT);
    }
    await expectOnly(lab, stranger, 4, []);
    await expectOnly(lab, stranger, 6, []);
  });

  it('the Node grant path (tm3 knock grant, as permanent mode and call-in run it) fills the union too: carol gets ssh and sip', async () => {
    await ok(['knock', 'grant', carol.v4]);
    await ok(['knock', 'grant', carol.v6]);
    await expectOnly(lab, carol, 4, ['tcp/22', ...SIP]);
    await expectOnly(lab, carol, 6, ['tcp/22', ...SIP]);
    expect(Object.keys(await holding(carol.v4)).sort()).to.deep.equal(['tm3-granted-4', 'tm3-knock-4']);
    expect(Object.keys(await holding(carol.v6)).sort()).to.deep.equal(['tm3-granted-6', 'tm3-knock-6']);
  });

  it('an address put in the union by hand (a stale member) reaches nothing: the grant sets still decide', async () => {
    await ipset(['add', 'tm3-granted-4', spare.v4, 'timeout', '100']);
    await ipset(['add', 'tm3-granted-6', spare.v6, 'timeout', '100']);
    await expectOnly(lab, spare, 4, []);
    await expectOnly(lab, spare, 6, []);
  });

  it('a grant whose address is missing from the union fails closed; why names the drift; tm3 restart puts it back', async () => {
    await ipset(['del', 'tm3-granted-4', bob.v4]);
    await ipset(['del', 'tm3-granted-6', bob.v6]);
    // still in his grant sets, yet the shortcut sends him back to INPUT's DROP
    expect(Object.keys(await holding(bob.v4))).to.deep.equal(['tm3-knock-sip-4']);
    await expectOnly(lab, bob, 4, []);
    await expectOnly(lab, bob, 6, []);
    const why = JSON.parse((await lab.tm3(['why', bob.v4, 'udp/5060', '--json'])).stdout) as { accepted: boolean; drift: string[]; fixes: string[] };
    expect(why.accepted).to.equal(false);
    expect(why.drift.join('\n')).to.match(/the files accept udp\/5060 \(a live knock grant.*but the kernel drops it/);
    expect(why.fixes).to.include('tm3 restart');
    await ok(['restart']);
    await expectOnly(lab, bob, 4, SIP);
    await expectOnly(lab, bob, 6, SIP);
    // back for at least the time his grant has left (both count down: a second may pass between)
    const h = await holding(bob.v4);
    expect(h['tm3-granted-4']).to.be.at.least(h['tm3-knock-sip-4'] - 2);
  });

  it('knock revoke ends the grant at once; the union keeps the member until its timeout, which opens nothing', async () => {
    await ok(['knock', 'revoke', carol.v4]);
    await expectOnly(lab, carol, 4, []);
    expect(Object.keys(await holding(carol.v4))).to.deep.equal(['tm3-granted-4']);
    await expectOnly(lab, carol, 6, ['tcp/22', ...SIP]);
  });

  // Found by a red-team run: the failsafe compares whole create lines, so a timed set left with
  // the old default timeout failed the restart (blaming the ADMIN SECTION) and was replaced by an
  // empty one: every live grant gone for a routine config edit.
  it('a changed [knock] grant_seconds, lowered then raised: restart exits 0, the timed sets take the new default, live grants keep working (cut to a lowered default), the failsafe agrees', async () => {
    const failsafe = `${lab.root}/usr/local/sbin/tm3-failsafe`;
    const creates = async () => (await ipset(['save'])).stdout.split('\n').filter((l) => /^create tm3-(knock|granted)-/.test(l));
    for (const [seconds, maxLeft] of [[30, 30], [600, GRANT]] as const) {
      lab.writeConfig(`grant_seconds = ${seconds}\nservices = ssh,sip\n`);
      await ok(['restart']);
      const heads = await creates();
      expect(heads.length).to.be.greaterThan(4);
      for (const c of heads) expect(c).to.match(new RegExp(` timeout ${seconds}(?: |$)`));
      await expectOnly(lab, carol, 6, ['tcp/22', ...SIP]);
      const left = await holding(carol.v6);
      expect(Object.keys(left).sort()).to.deep.equal(['tm3-granted-6', 'tm3-knock-6']);
      for (const t of Object.values(left)) expect(t).to.be.within(1, maxLeft);
      const check = await lab.exec(lab.server.ns, 'sh', [failsafe, 'check'], { reject: false });
      expect(check.exitCode, `${check.stdout}${check.stderr}`).to.equal(0);
    }
    lab.writeConfig(`grant_seconds = ${GRANT}\nservices = ssh,sip\n`);
    await ok(['restart']);
  });
});
