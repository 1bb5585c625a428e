import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, reachable, PORTS } from './access.js';

const GRANT = 6;

describe('PortKnocker with real knockd (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let knocker: Lab['server'], neighbour: Lab['server'], permanent: Lab['server'], rotated: Lab['server'], admin: Lab['server'];
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const sequence = async (): Promise<number[]> => JSON.parse((await ok(['knock', 'status', '--json'])).stdout).sequence;
  /** ms from the knock until tcp/22 answers, or -1 after `limit` ms */
  const knockAndWait = async (c: Lab['server'], ports: number[], limit: number, family: 4 | 6 = 4) => {
    await lab.knock(c, ports, family);
    const t0 = Date.now();
    while (Date.now() - t0 < limit) {
      if ((await reachable(lab, c, family, ['tcp/22']))['tcp/22']) return Date.now() - t0;
    }
    return -1;
  };
  const tm3Running = async () => (await execa('pgrep', ['-f', `main.js --root ${lab.root}`], { reject: false })).stdout.trim();

  before(async function () {
    requireLab(this, ['knockd', 'pgrep']);
    lab = await Lab.create(5);
    [knocker, neighbour, permanent, rotated, admin] = lab.clients;
    await lab.startResponder();
    lab.writeConfig(`grant_seconds = ${GRANT}\n`);
    await ok(['restart']);
    const st = JSON.parse((await ok(['knock', 'status', '--json'])).stdout);
    expect(st.knockdRunning).to.equal(true);
  });
  after(async () => { await lab?.destroy(); });

  it('the sequence is three distinct ports in 1024-65535, off RTP and the catalog, and knock.FAQ (mode 600) shows them', async () => {
    const seq = await sequence();
    expect(new Set(seq).size).to.equal(3);
    for (const p of seq) {
      expect(p).to.be.within(1024, 65535);
      expect(p < 10000 || p > 20000, `${p} in RTP`).to.equal(true);
      expect([4445, 4569, 5060, 5061, 5069, 9001, 9022, 9080]).not.to.include(p);
    }
    const faq = path.join(lab.root, 'root/knock.FAQ');
    expect(fs.statSync(faq).mode & 0o777).to.equal(0o600);
    const text = fs.readFileSync(faq, 'utf8');
    expect(text).to.include(seq.join(', then ')).and.include('nmap -Pn -n').and.include(`knock -d 500 ${lab.server.v4}`).and.include('Knock on Ports').and.include('Port Knocker');
  });

  it('1. the wrong order opens nothing; the right sequence opens the granted services within 1.5 s, for that client only', async () => {
    const seq = await sequence();
    expect(await knockAndWait(knocker, [seq[1], seq[0], seq[2]], 1500)).to.equal(-1);
    const ms = await knockAndWait(knocker, seq, 1500);
    expect(ms, 'ms from knock to access').to.be.within(0, 1500);
    await Promise.all([
      expectOnly(lab, knocker, 4, PORTS),
      expectOnly(lab, neighbour, 4, []),
    ]);
  });

  it('1. a knock over IPv6 opens IPv6', async () => {
    const ms = await knockAndWait(knocker, await sequence(), 1500, 6);
    expect(ms).to.be.within(0, 1500);
    await expectOnly(lab, neighbour, 6, []);
  });

  it(`2. with grant_seconds = ${GRANT}, the kernel ends the grant about ${GRANT} s later, no tm3 process running`, async () => {
    const t0 = Date.now();
    expect(await knockAndWait(knocker, await sequence(), 1500)).to.be.at.least(0);
    // the grant's clock starts when knockd ran the command, by the time access was seen
    const openedAt = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    expect(await tm3Running(), 'tm3 processes').to.equal('');
    let goneAt = -1;
    while (Date.now() - t0 < 15_000) {
      if (!(await reachable(lab, knocker, 4, ['tcp/22']))['tcp/22']) { goneAt = Date.now() - t0; break; }
      await new Promise((r) => setTimeout(r, 200));
    }
    // not before the grant time from the knock; and by the grant time after access was seen,
    // plus a probe's round under load (a dropped probe waits out its own timeout)
    expect(goneAt, 'ms from knock to expiry').to.be.within((GRANT - 0.5) * 1000, openedAt + GRANT * 1000 + 2500);
  });

  it('6. an expiring grant never removes a permanent admin entry for the same address', async () => {
    await ok(['add-ip', 'admin', admin.v4, '--services', 'sip']);
    expect(await knockAndWait(admin, await sequence(), 1500)).to.be.at.least(0);
    await new Promise((r) => setTimeout(r, (GRANT + 1.5) * 1000));
    await expectOnly(lab, admin, 4, ['tcp/5060', 'udp/5060']);
  });

  it('5. knock grant refuses hostile input and changes nothing', async () => {
    const before = (await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout.replace(/ timeout \d+/g, '').replace(/ packets \d+ bytes \d+/g, '');
    const entries = fs.readdirSync(path.join(lab.root, 'root')).sort();
    for (const bad of ['0.0.0.0', '::', '192.0.2.0/24', '224.0.0.1', '255.255.255.255', '127.0.0.1', 'fe80::1', '192.0.2.1;id', '$(reboot)', '`id`', 'a.example.org', '192.0.2.1 198.51.100.1', '']) {
      const r = await lab.tm3(['knock', 'grant', bad]);
      expect(r.exitCode, `grant ${bad}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.trim().split('\n'), bad).to.have.length(1);
    }
    const dry = await ok(['knock', 'grant', '--dry-run', neighbour.v4]);
    expect(dry.stdout).to.match(new RegExp(`^would grant ${neighbour.v4.replace(/\./g, '\\.')} all for ${GRANT}s`));
    expect((await ok(['knock', 'activate', '--dry-run'])).stdout).to.match(/^would switch permanent mode on/);
    expect(JSON.parse((await ok(['knock', 'status', '--json'])).stdout).permanent).to.equal(false);
    expect((await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout.replace(/ timeout \d+/g, '').replace(/ packets \d+ bytes \d+/g, '')).to.equal(before);
    expect(fs.readdirSync(path.join(lab.root, 'root')).sort()).to.deep.equal(entries);
  });

  it('3. after knock activate, a knock creates one timestamp entry; access outlives the grant and survives restart', async () => {
    // the original's way: /root/iptables-knock activate
    const act = await lab.exec(lab.server.ns, path.join(lab.root, 'root/iptables-knock'), ['activate']);
    expect(act.stdout).to.match(/permanent mode activated/);
    expect(await knockAndWait(permanent, await sequence(), 1500)).to.be.at.least(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(await knockAndWait(permanent, await sequence(), 1500)).to.be.at.least(0);
    await new Promise((r) => setTimeout(r, 1500));
    const list = JSON.parse((await ok(['list', '--json'])).stdout) as { name: string; target: string; source: string }[];
    const mine = list.filter((e) => e.target === `${permanent.v4}/32`);
    expect(mine, JSON.stringify(list)).to.have.length(1);
    expect(mine[0].source).to.equal('knock');
    expect(mine[0].name).to.match(/^\d{8}-\d{6}$/);
    await new Promise((r) => setTimeout(r, GRANT * 1000));
    await ok(['restart']);
    await expectOnly(lab, permanent, 4, PORTS);
    await ok(['knock', 'deactivate']);
  });

  it('4. after knock rotate the old sequence fails, the new one works, and knock.FAQ shows it', async () => {
    const old = await sequence();
    await ok(['knock', 'rotate']);
    const now = await sequence();
    expect(now).not.to.deep.equal(old);
    expect(await knockAndWait(rotated, old, 1500)).to.equal(-1);
    expect(await knockAndWait(rotated, now, 1500)).to.be.within(0, 1500);
    expect(fs.readFileSync(path.join(lab.root, 'root/knock.FAQ'), 'utf8')).to.include(now.join(', then ')).and.not.include(old.join(', then '));
  });

  it('3. three grants for one address at the same moment make one permanent entry, not three', async () => {
    await ok(['knock', 'activate']);
    const rs = await Promise.all([1, 2, 3].map(() => lab.tm3(['knock', 'grant', neighbour.v4])));
    for (const r of rs) expect(r.exitCode, r.stderr).to.equal(0);
    const list = JSON.parse((await ok(['list', '--json'])).stdout) as { target: string }[];
    expect(list.filter((e) => e.target === `${neighbour.v4}/32`)).to.have.length(1);
    await ok(['knock', 'deactivate']);
  });
});
