import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab, DNS_DOMAIN, CLI } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, PORTS } from './access.js';
import { kernelSnapshot as snapshotKernel, storeSnapshot as snapshotStore } from './snapshots.js';

const HOST = `roamer.${DNS_DOMAIN}`;

describe('core: whitelist enforced by the kernel (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  // c1: the admin's friend; c2: a stranger; c3/c4: the old and new address of a dynamic name
  let friend: Lab['server'], stranger: Lab['server'], dynOld: Lab['server'], dynNew: Lab['server'];

  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const kernelSnapshot = () => snapshotKernel(lab);
  const storeSnapshot = () => snapshotStore(lab);

  before(async function () {
    requireLab(this);
    lab = await Lab.create(4);
    [friend, stranger, dynOld, dynNew] = lab.clients;
    await lab.startResponder();
    await lab.startDns({ [HOST]: [dynOld.v4, dynOld.v6] });
    lab.writeConfig();
  });
  after(async () => { await lab?.destroy(); });

  it('reaches every port before tm3 runs (so the blocked checks below can fail)', async () => {
    await Promise.all([expectOnly(lab, stranger, 4, PORTS), expectOnly(lab, stranger, 6, PORTS)]);
  });

  it('1. after restart on an empty root, IPv4 and IPv6 clients reach nothing', async () => {
    await ok(['restart']);
    // every probe side by side: a dropped one waits out its timeout, so in a row they would add up
    await Promise.all([friend, stranger].flatMap((c) => [expectOnly(lab, c, 4, []), expectOnly(lab, c, 6, [])]));
    for (const f of ['etc/iptables/rules.v4', 'etc/iptables/rules.v6', 'etc/iptables/ipsets', 'usr/local/sbin/iptables-custom']) {
      expect(fs.existsSync(path.join(lab.root, f)), f).to.equal(true);
    }
  });

  it('the RTP range stays open to everyone by default', async () => {
    await expectOnly(lab, stranger, 4, ['udp/10000'], ['udp/10000', 'udp/5060']);
  });

  it('2. add-ip --services sip opens udp and tcp 5060 to that client only, for IPv4 and IPv6', async () => {
    await ok(['add-ip', 'home', friend.v4, '--services', 'sip']);
    await ok(['add-ip', 'home6', friend.v6, '--services', 'sip']);
    await Promise.all([
      expectOnly(lab, friend, 4, ['tcp/5060', 'udp/5060']),
      expectOnly(lab, friend, 6, ['tcp/5060', 'udp/5060']),
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, stranger, 6, []),
    ]);
  });

  it('2. --services all reaches everything; other clients stay blocked', async () => {
    await ok(['add-ip', 'office', `${friend.v4}`, '--services', 'all']);
    await Promise.all([expectOnly(lab, friend, 4, PORTS), expectOnly(lab, stranger, 4, [])]);
  });

  it('4. del-acct removes the access and the file', async () => {
    await ok(['del-acct', 'office']);
    expect(fs.existsSync(path.join(lab.root, 'root/office.iptables'))).to.equal(false);
    await expectOnly(lab, friend, 4, ['tcp/5060', 'udp/5060']);
    const r = await lab.tm3(['list', '--json']);
    expect(JSON.parse(r.stdout).map((e: { name: string }) => e.name)).to.deep.equal(['home', 'home6']);
  });

  it("the original's /root/add-ip and /root/del-acct, run with no terminal, work (services all)", async () => {
    const r = await lab.exec(lab.server.ns, path.join(lab.root, 'root/add-ip'), ['oldcmd', stranger.v4], { input: '' });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(lab.root, 'root/oldcmd.iptables'), 'utf8')).to.match(/^services=all$/m);
    await expectOnly(lab, stranger, 4, PORTS);
    await lab.exec(lab.server.ns, path.join(lab.root, 'root/del-acct'), ['oldcmd'], { input: '' });
    await expectOnly(lab, stranger, 4, []);
  });

  it('3. add-fqdn resolves A and AAAA through dnsmasq; no hostname reaches rules.v4/v6', async () => {
    await ok(['add-fqdn', 'roamer', HOST, '--services', 'ssh']);
    await Promise.all([expectOnly(lab, dynOld, 4, ['tcp/22']), expectOnly(lab, dynOld, 6, ['tcp/22']), expectOnly(lab, dynNew, 4, [])]);
    for (const f of ['rules.v4', 'rules.v6']) {
      expect(fs.readFileSync(path.join(lab.root, 'etc/iptables', f), 'utf8')).not.to.include(DNS_DOMAIN);
    }
  });

  it('3. after the DNS answer changes, refresh lets the new address in and drops the old', async () => {
    await lab.setDns({ [HOST]: [dynNew.v4, dynNew.v6] });
    await ok(['refresh']);
    await Promise.all([
      expectOnly(lab, dynNew, 4, ['tcp/22']),
      expectOnly(lab, dynNew, 6, ['tcp/22']),
      expectOnly(lab, dynOld, 4, []),
      expectOnly(lab, dynOld, 6, []),
    ]);
  });

  it('3. a refresh with nothing changed swaps no set', async () => {
    const r = await ok(['refresh', '--json']);
    expect(JSON.parse(r.stdout).swapped).to.deep.equal([]);
  });

  it('3. with dnsmasq stopped, refresh exits 0 with a warning and the last address keeps working, across restart', async () => {
    await lab.stopDns();
    const r = await ok(['refresh']);
    expect(r.stderr).to.match(/did not resolve.*last good addresses stay/);
    await expectOnly(lab, dynNew, 4, ['tcp/22']);
    await ok(['restart']);
    await Promise.all([expectOnly(lab, dynNew, 4, ['tcp/22']), expectOnly(lab, dynNew, 6, ['tcp/22']), expectOnly(lab, stranger, 4, [])]);
  });

  it('6. a garbage entry file is skipped with a warning; everyone else keeps access', async () => {
    fs.writeFileSync(path.join(lab.root, 'root/garbage.iptables'), 'address = {not an address}\nservices = ;rm -rf /\n');
    const r = await ok(['restart']);
    expect(r.stderr).to.match(/skipped garbage\.iptables/);
    await Promise.all([expectOnly(lab, friend, 4, ['tcp/5060', 'udp/5060']), expectOnly(lab, dynNew, 4, ['tcp/22'])]);
    fs.unlinkSync(path.join(lab.root, 'root/garbage.iptables'));
  });

  it("7. an entry in the original's one-line format works, as services all", async () => {
    fs.writeFileSync(path.join(lab.root, 'root/oldstyle.iptables'), `${dynOld.v4}\n`);
    await ok(['restart']);
    await expectOnly(lab, dynOld, 4, PORTS);
    const r = await ok(['list', '--json']);
    expect(JSON.parse(r.stdout).find((e: { name: string }) => e.name === 'oldstyle')).to.include({ target: `${dynOld.v4}/32` });
    await ok(['del-acct', 'oldstyle']);
    await expectOnly(lab, dynOld, 4, []);
  });

  it('status --json shows addresses, resolution age and a kernel that matches', async () => {
    const r = await ok(['status', '--json']);
    const s = JSON.parse(r.stdout);
    expect(s.firewall).to.deep.equal({ v4: 'DROP', v6: 'DROP', active: true });
    expect(s.kernelMatchesPlan, s.problems.join('\n')).to.equal(true);
    const roamer = s.entries.find((e: { name: string }) => e.name === 'roamer');
    expect(roamer.addresses).to.deep.equal([`${dynNew.v4}/32`, `${dynNew.v6}/128`]);
    expect(roamer.resolvedAgeSeconds).to.be.a('number');
  });

  it("iptables-custom's admin section runs on restart and survives regeneration byte for byte", async () => {
    const file = path.join(lab.root, 'usr/local/sbin/iptables-custom');
    const body = `/sbin/iptables -A INPUT -s ${stranger.v4} -p tcp --dport 80 -j ACCEPT\n# keep me: $HOME & \\n\n`;
    const text = fs.readFileSync(file, 'utf8').replace(/(# >>> ADMIN SECTION[^\n]*\n)[\s\S]*?(# <<< END)/, (_m, a, b) => `${a}${body}${b}`);
    fs.writeFileSync(file, text);
    await ok(['restart']);
    expect(fs.readFileSync(file, 'utf8')).to.equal(text);
    await expectOnly(lab, stranger, 4, ['tcp/80']);
    fs.writeFileSync(file, text.replace(body, ''));
    await ok(['restart']);
    await expectOnly(lab, stranger, 4, []);
  });

  it('a rule file the kernel refuses leaves the previous firewall in force (fault injected into ip6tables-restore)', async () => {
    const fake = path.join(lab.root, 'fakebin');
    fs.mkdirSync(fake, { recursive: true });
    fs.writeFileSync(path.join(fake, 'ip6tables-restore'), '#!/bin/sh\necho "ip6tables-restore: line 9 failed" >&2\nexit 1\n', { mode: 0o755 });
    const before = await kernelSnapshot();
    // every file tm3 writes (rules, sets, iptables-custom, the failsafe, units, hooks): a refused
    // restart leaves them as they were, so the next boot loads what is in force now
    const filesNow = () => ['etc', 'usr'].flatMap((d) => (fs.readdirSync(path.join(lab.root, d), { recursive: true }) as string[]).map((f) => path.join(d, f)))
      .filter((f) => fs.lstatSync(path.join(lab.root, f)).isFile()).sort().map((f) => `${f}\n${fs.readFileSync(path.join(lab.root, f), 'utf8')}`).join('\n');
    const filesBefore = filesNow();
    // an entry file that appeared since the last apply: its set must not change either
    const late = path.join(lab.root, 'root/latecomer.iptables');
    fs.writeFileSync(late, `[entry]\naddress=${stranger.v4}\nservices=all\n`);
    try {
      const r = await lab.tm3(['restart'], { env: { PATH: `${fake}:${process.env.PATH}` } });
      expect(r.exitCode).to.equal(1);
      expect(r.stderr).to.match(/ip6tables-restore failed .*line 9 failed/);
      expect(r.stderr).to.include('ip6tables-restore -w 5 --test');
      expect(await kernelSnapshot()).to.equal(before);
      expect(filesNow() === filesBefore, 'a file tm3 writes changed in a refused restart').to.equal(true);
      const check = await lab.exec(lab.server.ns, 'sh', [path.join(lab.root, 'usr/local/sbin/tm3-failsafe'), 'check'], { reject: false });
      expect(check.exitCode, `tm3-failsafe check after the refused restart: ${check.stdout}`).to.equal(0);
      await Promise.all([expectOnly(lab, friend, 4, ['tcp/5060', 'udp/5060']), expectOnly(lab, stranger, 4, []), expectOnly(lab, stranger, 6, [])]);
    } finally {
      fs.rmSync(late, { force: true });
    }
  });

  it('concurrent add-ip and del-acct lose no entry (one lock, atomic writes)', async () => {
    const names = Array.from({ length: 16 }, (_, i) => `par${i}`);
    const results = await Promise.all(names.map((n, i) => lab.tm3(['add-ip', n, `203.0.113.${100 + i}`, '--services', 'web'])));
    results.forEach((r) => expect(r.exitCode, r.stderr).to.equal(0));
    const dels = await Promise.all(names.slice(0, 8).map((n) => lab.tm3(['del-acct', n])));
    dels.forEach((r) => expect(r.exitCode, r.stderr).to.equal(0));
    const listed = JSON.parse((await ok(['list', '--json'])).stdout).map((e: { name: string }) => e.name).filter((n: string) => n.startsWith('par'));
    expect(listed.sort()).to.deep.equal(names.slice(8).sort());
    const set = (await lab.exec(lab.server.ns, 'ipset', ['list', 'tm3-web-4'])).stdout.split('\n').map((l) => l.replace(/ packets \d+ bytes \d+$/, ''));
    for (let i = 0; i < 16; i++) expect(set.includes(`203.0.113.${100 + i}`), `203.0.113.${100 + i}`).to.equal(i >= 8);
    const st = JSON.parse((await ok(['status', '--json'])).stdout);
    expect(st.kernelMatchesPlan, st.problems.join('\n')).to.equal(true);
    await Promise.all(names.slice(8).map((n) => ok(['del-acct', n])));
  });

  describe('5. hostile input is refused with a one-line fix and changes nothing', () => {
    const cases: [string, string[]][] = [
      ['catch-all v4', ['add-ip', 'x', '0.0.0.0/0']],
      ['catch-all v6', ['add-ip', 'x', '::/0']],
      ['catch-all v4 forced', ['add-ip', 'x', '0.0.0.0/0', '--force']],
      ['IPv4-mapped catch-all', ['add-ip', 'x', '::ffff:0.0.0.0/96', '--force']],
      ['IPv4-mapped host', ['add-ip', 'x', '::ffff:192.0.2.9']],
      ['too broad v4', ['add-ip', 'x', '198.0.0.0/7']],
      ['too broad v6', ['add-ip', 'x', '2001:d00::/24']],
      ['leading zeros', ['add-ip', 'x', '192.0.002.1']],
      ['octal-looking', ['add-ip', 'x', '0300.0.2.1']],
      ['short form', ['add-ip', 'x', '192.0.2']],
      ['host bits set', ['add-ip', 'x', '192.0.2.9/24']],
      ['bad prefix', ['add-ip', 'x', '192.0.2.0/33']],
      ['shell text as address', ['add-ip', 'x', '192.0.2.1;reboot']],
      ['command substitution', ['add-ip', 'x', '$(reboot)']],
      ['multicast', ['add-ip', 'x', '224.0.0.1']],
      ['unspecified', ['add-ip', 'x', '0.0.0.0']],
      ['broadcast', ['add-ip', 'x', '255.255.255.255']],
      ['zone id', ['add-ip', 'x', 'fe80::1%veth-s']],
      ['name with ../', ['add-ip', '../etc/passwd', '203.0.113.5']],
      ['name with slash', ['add-ip', 'a/b', '203.0.113.5']],
      ['name with shell', ['add-ip', 'a;rm', '203.0.113.5']],
      ['hidden name', ['add-ip', '.hidden', '203.0.113.5']],
      ['name too long', ['add-ip', 'a'.repeat(65), '203.0.113.5']],
      ['existing name', ['add-ip', 'home', '203.0.113.5']],
      ['unknown service', ['add-ip', 'x', '203.0.113.5', '--services', 'telnet']],
      ['hostname with shell', ['add-fqdn', 'x', 'a.example.net;reboot']],
      ['hostname not fqdn', ['add-fqdn', 'x', 'localhost']],
      ['address as hostname', ['add-fqdn', 'x', '203.0.113.5']],
      ['hostname that does not resolve', ['add-fqdn', 'x', `nobody.${DNS_DOMAIN}`]],
      ['delete unknown', ['del-acct', 'nosuchentry']],
      ['delete traversal', ['del-acct', '../../etc/passwd']],
    ];
    let kernelBefore = '';
    let storeBefore = '';
    before(async () => {
      // dnsmasq answering again, so the unresolvable name below gets a real NXDOMAIN
      await lab.startDns({ [HOST]: [dynNew.v4] });
      kernelBefore = await kernelSnapshot();
      storeBefore = storeSnapshot();
    });
    for (const [label, args] of cases) {
      it(`${label}: tm3 ${args.join(' ').slice(0, 60)}`, async () => {
        const r = await lab.tm3(args);
        expect(r.exitCode, r.stderr).to.equal(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).to.have.length(1);
        expect(lines[0]).to.match(/^tm3: .+ \(fix: .+\)$/);
      });
    }
    after(async function () {
      if (!lab) return;
      expect(storeSnapshot(), 'store changed').to.equal(storeBefore);
      expect(await kernelSnapshot(), 'kernel changed').to.equal(kernelBefore);
    });
  });

  it("on a terminal: add-ip without --services shows the original's menu; del-acct without a name shows the picker", async () => {
    // script(1) gives the command a pseudo-terminal; the answers wait in its input
    const onTty = (args: string[], answer: string) => execa('script', ['-qec', ['ip', 'netns', 'exec', lab.server.ns, process.execPath, CLI, '--root', lab.root, ...args].join(' '), '/dev/null'], { input: answer, reject: false, env: { TM3_NO_SYSLOG: '1' } });
    const add = await onTty(['add-ip', 'menu-pick', stranger.v4], 'sip,web\n');
    expect(add.stdout).to.include('Which services may this entry reach?').and.include('Choice(s)');
    expect(fs.readFileSync(path.join(lab.root, 'root/menu-pick.iptables'), 'utf8')).to.match(/^services=sip,web$/m);
    await expectOnly(lab, stranger, 4, ['tcp/80', 'tcp/5060', 'udp/5060']);
    const del = await onTty(['del-acct'], 'menu-pick\ny\n');
    expect(del.stdout).to.match(/\d+\) menu-pick/).and.include('Entry to delete');
    expect(fs.existsSync(path.join(lab.root, 'root/menu-pick.iptables'))).to.equal(false);
    await expectOnly(lab, stranger, 4, []);
  });

  it('--dry-run shows the change and changes nothing', async () => {
    const before = await kernelSnapshot();
    const r = await ok(['add-ip', 'dry', stranger.v4, '--services', 'web', '--dry-run']);
    expect(r.stdout).to.include(`+ ${stranger.v4}/32 in tm3-web-4`);
    expect(fs.existsSync(path.join(lab.root, 'root/dry.iptables'))).to.equal(false);
    expect(await kernelSnapshot()).to.equal(before);
  });
});
