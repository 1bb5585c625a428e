import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab, DNS_DOMAIN } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, reachable } from './access.js';

const HOST = `roamer.${DNS_DOMAIN}`;

describe('boot and network resilience (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let friend: Lab['server'], stranger: Lab['server'], dynOld: Lab['server'], dynNew: Lab['server'];
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const closedWithWhitelist = async (fqdnAt: Lab['server']) => {
    await Promise.all([
      expectOnly(lab, friend, 4, ['tcp/22']),
      expectOnly(lab, fqdnAt, 4, ['tcp/22']),
      expectOnly(lab, fqdnAt, 6, ['tcp/22']),
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, stranger, 6, []),
    ]);
  };

  before(async function () {
    requireLab(this, ['netfilter-persistent', 'unshare', 'run-parts', 'flock', 'systemd-analyze']);
    lab = await Lab.create(4);
    [friend, stranger, dynOld, dynNew] = lab.clients;
    await lab.startResponder();
    await lab.startDns({ [HOST]: [dynOld.v4, dynOld.v6] });
    lab.writeConfig();
    await ok(['restart']);
    await ok(['add-ip', 'office', friend.v4, '--services', 'ssh']);
    await ok(['add-fqdn', 'roamer', HOST, '--services', 'ssh']);
    await closedWithWhitelist(dynOld);
  });
  after(async () => { await lab?.destroy(); });

  it('1. simulated reboot with DNS down and the link late: the saved whitelist is enforced before any DNS answer', async () => {
    await lab.wipeKernel();
    await lab.stopDns();
    await lab.link(false);
    expect((await reachable(lab, stranger, 4, ['tcp/22']))['tcp/22'], 'link is down').to.equal(false);
    const log = await lab.boot();
    expect(log[0]).to.match(/^netfilter-persistent start: exit 0/);
    expect(log.join('\n')).not.to.match(/tm3-failsafe:/);
    await lab.link(true);
    await closedWithWhitelist(dynOld);
  });

  it('1. if netfilter-persistent fails (a corrupt rules.v4), the failsafe loads a closed ruleset with the saved sets, loudly', async () => {
    const rules = path.join(lab.root, 'etc/iptables/rules.v4');
    const good = fs.readFileSync(rules, 'utf8');
    fs.writeFileSync(rules, '*filter\n-A INPUT -m nosuchmatch -j ACCEPT\nCOMMIT\n');
    await lab.wipeKernel();
    const log = (await lab.boot()).join('\n');
    // netfilter-persistent itself exits 0 when a plugin fails; the failsafe is what notices
    expect(log).to.match(/^netfilter-persistent start: .*(failed|error)/im);
    expect(log).to.match(/tm3-failsafe: the firewall was not up after netfilter-persistent/);
    await closedWithWhitelist(dynOld);
    fs.writeFileSync(rules, good);
  });

  it('2. late link: the if-up hook refreshes and the new address gets in within 3 s, the old one is dropped', async () => {
    await lab.link(false);
    await lab.startDns({ [HOST]: [dynNew.v4, dynNew.v6] });
    await lab.link(true);
    const started = Date.now();
    const hook = await lab.exec(lab.server.ns, 'env', ['IFACE=veth-s', 'MODE=start', 'PHASE=post-up', 'run-parts', path.join(lab.root, 'etc/network/if-up.d')]);
    expect(hook.exitCode).to.equal(0);
    let inAfter = -1;
    while (Date.now() - started < 3000) {
      if ((await reachable(lab, dynNew, 4, ['tcp/22']))['tcp/22']) { inAfter = Date.now() - started; break; }
    }
    expect(inAfter, 'new address allowed within 3 s').to.be.within(0, 3000);
    await new Promise((r) => setTimeout(r, 300)); // let the backgrounded refresh finish its IPv6 swap
    await closedWithWhitelist(dynNew);
    await expectOnly(lab, dynOld, 4, []);
  });

  it('2. hooks ignore lo, and a burst of 8 triggers coalesces into at most two refreshes', async () => {
    await lab.stopDns();
    // a DNS server that never answers makes each refresh last one timeout, and counts its queries
    const hole = await lab.startDnsBlackhole();
    const ifup = path.join(lab.root, 'etc/network/if-up.d');
    const nm = path.join(lab.root, 'etc/NetworkManager/dispatcher.d/90-tm3');
    const nd = path.join(lab.root, 'etc/networkd-dispatcher/routable.d/90-tm3');
    const lo = await lab.exec(lab.server.ns, 'env', ['IFACE=lo', 'MODE=start', 'run-parts', ifup]);
    expect(lo.exitCode).to.equal(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await hole.stop(), 'queries after an lo trigger').to.equal(0);
    const hole2 = await lab.startDnsBlackhole();
    const t0 = Date.now();
    await Promise.all([
      ...Array.from({ length: 3 }, () => lab.exec(lab.server.ns, 'env', ['IFACE=veth-s', 'MODE=start', 'run-parts', ifup])),
      ...Array.from({ length: 3 }, () => lab.exec(lab.server.ns, nm, ['veth-s', 'up'])),
      ...Array.from({ length: 2 }, () => lab.exec(lab.server.ns, 'env', ['IFACE=veth-s', nd])),
    ]);
    expect(Date.now() - t0, 'hooks return at once').to.be.below(2000);
    await new Promise((r) => setTimeout(r, 3500)); // two refreshes, one DNS timeout (1 s) each
    const queries = await hole2.stop();
    // each refresh asks A and AAAA once: 2 or 4 queries, never 16
    expect(queries, 'DNS queries from 8 triggers').to.be.within(2, 4);
  });

  it("3. the iptables-save accident: boot comes up closed, doctor flags the drift, restart repairs it", async () => {
    const saved = await lab.exec(lab.server.ns, 'iptables-save', []);
    fs.writeFileSync(path.join(lab.root, 'etc/iptables/rules.v4'), `${saved.stdout}\n`);
    await lab.wipeKernel();
    await lab.stopDns();
    await lab.boot();
    await closedWithWhitelist(dynNew);
    const doc = await lab.tm3(['doctor']);
    expect(doc.exitCode, doc.stdout).to.equal(1);
    expect(doc.stdout).to.match(/^problem: \/etc\/iptables\/rules\.v4 differs from what tm3 renders/m);
    const r = await ok(['restart']);
    expect(r.stdout).to.match(/backed up the previous file to .*var\/backups\/tm3\/.*etc\/iptables\/rules\.v4/);
    const clean = await lab.tm3(['doctor']);
    expect(clean.stdout, clean.stderr).to.equal('tm3 doctor: healthy\n'.trimEnd());
    expect(clean.exitCode).to.equal(0);
  });

  it('doctor flags a wrong INPUT policy, a set out of date and a stale FQDN', async () => {
    await lab.exec(lab.server.ns, 'ip6tables', ['-P', 'INPUT', 'ACCEPT']);
    await lab.exec(lab.server.ns, 'ipset', ['flush', 'tm3-ssh-4']);
    const cacheFile = path.join(lab.root, 'var/lib/tm3/resolved.json');
    const cache = fs.readFileSync(cacheFile, 'utf8');
    const data = JSON.parse(cache);
    data.hosts[HOST].okAt = '2020-01-01T00:00:00.000Z';
    fs.writeFileSync(cacheFile, JSON.stringify(data));
    const doc = await lab.tm3(['doctor', '--json']);
    expect(doc.exitCode).to.equal(1);
    const problems: string[] = JSON.parse(doc.stdout).problems;
    expect(problems.join('\n')).to.match(/IPv6 INPUT policy is ACCEPT/).and.match(/roamer: .* last resolved 2020-01-01/).and.match(/set tm3-ssh-4 differs/);
    fs.writeFileSync(cacheFile, cache);
    await ok(['restart']);
  });

  it('4. systemd-analyze verify passes for every unit, and the timer fires every 10 minutes', async () => {
    const dir = path.join(lab.root, 'etc/systemd/system');
    const units = fs.readdirSync(dir).filter((f) => f.startsWith('tm3-'));
    expect(units.sort()).to.deep.equal(['tm3-firewall.service', 'tm3-refresh.service', 'tm3-refresh.timer']);
    for (const u of units) {
      const r = await execa('systemd-analyze', ['verify', path.join(dir, u)], { reject: false });
      expect(r.exitCode, `${u}: ${r.stderr}`).to.equal(0);
      expect(r.stderr, u).not.to.match(/tm3-/);
    }
    const cal = /^OnCalendar=(.+)$/m.exec(fs.readFileSync(path.join(dir, 'tm3-refresh.timer'), 'utf8'))![1];
    const r = await execa('systemd-analyze', ['calendar', '--iterations=7', cal], { env: { TZ: 'UTC' } });
    const times = [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+)/g)].map((m) => Date.parse(`${m[1].replace(' ', 'T')}Z`));
    expect(times).to.have.length(7);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).to.equal(600_000);
  });

  describe('5. faults, with a stranger probing the whole time', () => {
    let loop4: Awaited<ReturnType<Lab['probeLoop']>>;
    let loop6: Awaited<ReturnType<Lab['probeLoop']>>;
    before(async () => {
      loop4 = await lab.probeLoop(stranger, 4);
      loop6 = await lab.probeLoop(stranger, 6);
    });

    it('kill -9 of tm3 refresh in the middle leaves the previous sets in force, whole', async () => {
      await lab.startDns({ [HOST]: [dynOld.v4, dynOld.v6] });
      const valid = [[`${dynNew.v4}`], [`${dynOld.v4}`]].map((x) => x.join());
      for (let i = 0; i < 10; i++) {
        await lab.setDns({ [HOST]: i % 2 ? [dynNew.v4, dynNew.v6] : [dynOld.v4, dynOld.v6] });
        const p = lab.tm3(['refresh']);
        await new Promise((r) => setTimeout(r, 100 + ((i * 37) % 250)));
        await execa('pkill', ['-9', '-f', `--root ${lab.root} refresh`], { reject: false });
        await p;
        const members = (await lab.exec(lab.server.ns, 'ipset', ['list', 'tm3-ssh-4'])).stdout.split('Members:\n')[1].split('\n').map((l) => l.replace(/ packets \d+ bytes \d+$/, '')).filter((l) => l && l !== friend.v4);
        expect(valid, `after kill ${i}: ${members}`).to.include(members.join());
      }
      await ok(['refresh']);
      const s = JSON.parse((await ok(['status', '--json'])).stdout);
      expect(s.kernelMatchesPlan, s.problems.join('\n')).to.equal(true);
      await expectOnly(lab, friend, 4, ['tcp/22']);
    });

    it('a corrupt resolved-address cache is rebuilt by the next refresh; the firewall stays closed meanwhile', async () => {
      const cacheFile = path.join(lab.root, 'var/lib/tm3/resolved.json');
      fs.writeFileSync(cacheFile, '{"hosts": {"roamer.dyn.ex');
      await lab.setDns({ [HOST]: [dynNew.v4, dynNew.v6] });
      const r = await ok(['refresh']);
      expect(r.stderr).to.match(/cache .* is corrupt .* rebuilt/);
      expect(JSON.parse(fs.readFileSync(cacheFile, 'utf8')).hosts[HOST].v4).to.deep.equal([`${dynNew.v4}/32`]);
      await closedWithWhitelist(dynNew);
    });

    after(async () => {
      const r4 = await loop4.stop();
      const r6 = await loop6.stop();
      expect(r4.attempts, 'IPv4 probes sent').to.be.greaterThan(20);
      expect(r6.attempts, 'IPv6 probes sent').to.be.greaterThan(20);
      expect(r4.through + r6.through, 'stranger probes that got through').to.equal(0);
    });
  });
});
