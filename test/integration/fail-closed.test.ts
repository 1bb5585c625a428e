import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab, type Host } from '../../src/lab/lab.js';
import { ADMIN_BEGIN, ADMIN_END } from '../../src/plan/admin-section.js';
import { requireLab } from './prereq.js';
import { expectOnly } from './access.js';

// Invariant 2, whatever ran before: the ADMIN SECTION of iptables-custom is the admin's own shell,
// run as root after tm3's rules. Whatever it does, after tm3 restart and after a boot both
// families end closed the way tm3 built them, loudly, with the culprit named. Each case below
// leaves the box open (or the whitelist broken) on a design that only notices it.

const CASES: { what: string; body: string; line?: RegExp }[] = [
  { what: 'sets ACCEPT policy', body: 'iptables -P INPUT ACCEPT\nip6tables -P INPUT ACCEPT\n', line: /iptables -P INPUT ACCEPT/ },
  { what: 'does it through a shell variable', body: 'IPT=/sbin/iptables\nIP6T=/sbin/ip6tables\n$IPT -P INPUT ACCEPT\n$IP6T --policy INPUT ACCEPT\n', line: /\$IPT -P INPUT ACCEPT/ },
  { what: 'flushes INPUT', body: 'iptables -F INPUT\nip6tables -F INPUT\n', line: /iptables -F INPUT/ },
  { what: "deletes the jump to tm3's chain", body: '/sbin/iptables -D INPUT -m comment --comment tm3 -j TM3-WHITELIST\n', line: /-D INPUT -m comment --comment tm3 -j TM3-WHITELIST/ },
  { what: 'inserts an accept-everything rule, then exits early', body: 'iptables -I INPUT -j ACCEPT\nip6tables -I INPUT 1 -j ACCEPT\nexit 0\n', line: /iptables -I INPUT -j ACCEPT/ },
  // found by red-teaming the first guard, which only checked that tm3's rules were present
  { what: "appends an ACCEPT to tm3's whitelist chain", body: 'iptables -A TM3-WHITELIST -j ACCEPT\nip6tables -A TM3-WHITELIST -j ACCEPT\n', line: /iptables -A TM3-WHITELIST -j ACCEPT/ },
  { what: 'opens a whole protocol, over IPv6 too', body: 'iptables -I INPUT -p tcp -j ACCEPT\nip6tables -I INPUT -p udp -m comment --comment temp -j ACCEPT\n', line: /iptables -I INPUT -p tcp -j ACCEPT/ },
  { what: 'accepts through a chain of its own', body: 'iptables -N OPENUP\niptables -A OPENUP -j ACCEPT\niptables -I INPUT -j OPENUP\n', line: /iptables -N OPENUP/ },
  { what: 'splits the internet in two halves', body: 'iptables -I INPUT -s 0.0.0.0/1 -j ACCEPT\niptables -I INPUT -s 128.0.0.0/1 -j ACCEPT\n', line: /0\.0\.0\.0\/1/ },
  { what: 'accepts every ESTABLISHED packet again (revocation undone)', body: 'iptables -I INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n', line: /--ctstate ESTABLISHED,RELATED -j ACCEPT/ },
  { what: 'restores extra rules with --noflush', body: "printf '*filter\\n-I INPUT -p udp -j ACCEPT\\nCOMMIT\\n' | iptables-restore --noflush\n", line: /iptables-restore --noflush/ },
  // second red-team pass
  { what: 'queues every packet with --queue-bypass (accepted when nothing listens)', body: 'iptables -I INPUT -j NFQUEUE --queue-bypass\nip6tables -I INPUT -j NFQUEUE --queue-bypass\n', line: /-j NFQUEUE --queue-bypass/ },
  { what: 'accepts a set of its own that holds the whole internet', body: 'ipset create wide hash:net\nipset add wide 0.0.0.0/1\nipset add wide 128.0.0.0/1\niptables -I INPUT -m set --match-set wide src -j ACCEPT\n', line: /--match-set wide src -j ACCEPT/ },
  { what: 'hides options in a comment', body: 'iptables -I INPUT -m comment --comment --icmp-type -j ACCEPT\n', line: /--comment --icmp-type -j ACCEPT/ },
  { what: "swaps tm3's knock set for one that grants half the internet for weeks", body: 'ipset -exist create evil hash:ip family inet netmask 1 timeout 3600\nipset -exist add evil 128.0.0.0 timeout 2000000\nipset swap evil tm3-knock-4\n', line: /ipset swap evil tm3-knock-4/ },
  // no single line looks wrong here: the kernel's sum does, and the fix says where to look
  { what: 'opens every port in four bounded-looking pieces', body: 'for r in 1:16384 16385:32768 32769:49152 49153:65535; do iptables -A INPUT -p tcp --dport $r -j ACCEPT; done\n' },
];

describe('fail closed, whatever the ADMIN SECTION did (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  let friend: Host, stranger: Host;
  const custom = () => path.join(lab.root, 'usr/local/sbin/iptables-custom');
  const setAdminBody = (body: string) => {
    const text = fs.readFileSync(custom(), 'utf8');
    const start = text.indexOf(`${ADMIN_BEGIN}\n`) + ADMIN_BEGIN.length + 1;
    fs.writeFileSync(custom(), text.slice(0, start) + body + text.slice(text.indexOf(ADMIN_END)));
  };
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  /** Strangers see nothing on v4 or v6; the whitelisted friend reaches exactly its sip ports. */
  const closedAsBuilt = async () => {
    // side by side: a dropped probe waits out its timeout, so four in a row would cost four
    await Promise.all([
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, stranger, 6, []),
      expectOnly(lab, friend, 4, ['tcp/5060', 'udp/5060']),
      expectOnly(lab, friend, 6, ['tcp/5060', 'udp/5060']),
    ]);
  };

  before(async function () {
    requireLab(this, ['netfilter-persistent', 'unshare']);
    lab = await Lab.create(2);
    [friend, stranger] = lab.clients;
    await lab.startResponder();
    lab.writeConfig();
    await ok(['restart']);
    await ok(['add-ip', 'friend', friend.v4, '--services', 'sip']);
    await ok(['add-ip', 'friend6', friend.v6, '--services', 'sip']);
  });
  after(async () => { await lab?.destroy(); });

  for (const c of CASES) {
    it(`an ADMIN SECTION that ${c.what}: restart and boot end closed, loudly, naming the line`, async () => {
      setAdminBody(c.body);
      const r = await lab.tm3(['restart']);
      expect(r.exitCode, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/the firewall was left open or incomplete; tm3 closed it again/);
      if (c.line) {
        expect(r.stderr).to.match(/fix: remove or correct ADMIN SECTION line \d+ of \/usr\/local\/sbin\/iptables-custom/);
        expect(r.stderr).to.match(c.line);
      } else {
        expect(r.stderr).to.match(/fix: a line of the ADMIN SECTION of \/usr\/local\/sbin\/iptables-custom did it/);
      }
      await closedAsBuilt();

      await lab.wipeKernel();
      const log = (await lab.boot({ allowFail: true })).join('\n');
      expect(log).to.match(/tm3-failsafe verify: exit 1/);
      if (c.line) expect(log).to.match(/tm3-failsafe: suspect: ADMIN SECTION line \d+/);
      await closedAsBuilt();
      setAdminBody('');
      await ok(['restart']);
    });
  }

  it("what an admin opens on purpose is not falling open: one port to everyone, or a host's SSH, pass the guard", async () => {
    setAdminBody(`iptables -A INPUT -p tcp --dport 80 -j ACCEPT\niptables -A INPUT -s ${stranger.v4} -p tcp --dport 22 -j ACCEPT\n`);
    await ok(['restart']);
    await Promise.all([
      expectOnly(lab, stranger, 4, ['tcp/22', 'tcp/80']),
      expectOnly(lab, stranger, 6, []),
    ]);
  });

  it("the repair keeps the admin's bounded rules, so closing the box does not cut off whoever they let in", async () => {
    setAdminBody(`iptables -A INPUT -s ${stranger.v4} -p tcp --dport 22 -j ACCEPT\niptables -P FORWARD ACCEPT\n`);
    const r = await lab.tm3(['restart']);
    expect(r.exitCode).to.equal(1);
    expect(r.stderr).to.match(/IPv4 FORWARD policy is ACCEPT, not DROP/);
    expect(r.stderr).to.match(/ADMIN SECTION line \d+ of \/usr\/local\/sbin\/iptables-custom \(iptables -P FORWARD ACCEPT\)/);
    expect((await lab.exec(lab.server.ns, 'iptables', ['-S', 'FORWARD'])).stdout).to.match(/^-P FORWARD DROP/);
    await expectOnly(lab, stranger, 4, ['tcp/22']);
    setAdminBody('');
    await ok(['restart']);
    await expectOnly(lab, stranger, 4, []);
  });

  it("the repair keeps the admin's denies too (TM3-ADMIN), since dropping one would open what it refused", async () => {
    await ok(['add-ip', 'visitor', stranger.v4, '--services', 'ssh']);
    setAdminBody(`iptables -A TM3-ADMIN -s ${stranger.v4} -p tcp --dport 22 -j DROP\niptables -P FORWARD ACCEPT\n`);
    const r = await lab.tm3(['restart']);
    expect(r.exitCode).to.equal(1);
    expect(r.stderr).to.match(/IPv4 FORWARD policy is ACCEPT, not DROP/);
    expect((await lab.exec(lab.server.ns, 'iptables', ['-S', 'TM3-ADMIN'])).stdout).to.include(`-A TM3-ADMIN -s ${stranger.v4}/32 -p tcp -m tcp --dport 22 -j DROP`);
    await expectOnly(lab, stranger, 4, []);
    setAdminBody('');
    await ok(['del-acct', 'visitor']);
    await ok(['restart']);
  });

  it('the ADMIN SECTION run by hand (the original way) opens the box: doctor names the line, its fix works, and refresh closes it meanwhile', async () => {
    setAdminBody('# my rules\nIPT=/sbin/iptables\n$IPT -P INPUT ACCEPT\n');
    await lab.exec(lab.server.ns, 'sh', [custom()]);
    await expectOnly(lab, stranger, 4, ['tcp/22', 'tcp/80', 'tcp/5060', 'udp/5060', 'udp/4569', 'tcp/9001']);
    const doc = await lab.tm3(['doctor']);
    expect(doc.exitCode).to.equal(1);
    const line = /remove or correct ADMIN SECTION line (\d+) of (\S+) \(\$IPT -P INPUT ACCEPT\), then run tm3 restart/.exec(doc.stdout);
    expect(line, doc.stdout).to.not.equal(null);

    // the timer's refresh holds the promise in the meantime
    const rf = await lab.tm3(['refresh']);
    expect(rf.exitCode).to.equal(1);
    await closedAsBuilt();

    // doctor's advice, followed to the letter, makes it healthy
    const lines = fs.readFileSync(custom(), 'utf8').split('\n');
    expect(lines[Number(line![1]) - 1]).to.equal('$IPT -P INPUT ACCEPT');
    lines.splice(Number(line![1]) - 1, 1);
    fs.writeFileSync(custom(), lines.join('\n'));
    await ok(['restart']);
    const clean = await lab.tm3(['doctor']);
    expect(clean.stdout, clean.stderr).to.equal('tm3 doctor: healthy');
  });

  it('a policy changed by hand outside tm3: doctor says restart rebuilds it, and it does', async () => {
    await lab.exec(lab.server.ns, 'ip6tables', ['-P', 'INPUT', 'ACCEPT']);
    const doc = await lab.tm3(['doctor']);
    expect(doc.exitCode).to.equal(1);
    expect(doc.stdout).to.match(/problem: IPv6 INPUT policy is ACCEPT, not DROP \(tm3 restart rebuilds tm3's ruleset\)/);
    await ok(['restart']);
    expect((await lab.tm3(['doctor'])).stdout).to.equal('tm3 doctor: healthy');
    await expectOnly(lab, stranger, 6, []);
  });
});
