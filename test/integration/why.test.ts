import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { reachable, type Port } from './access.js';

// tm3 why, status ADDRESS and list ADDRESS against a real kernel, knockd and fail2ban-server:
// for every reason the command gives, a probe from a lab client must agree with its verdict.

interface WhyJson {
  address: string; family: 4 | 6; port: string | null; accepted: boolean; summary: string;
  checks: { proto: string; port: number; service?: string; accepted: boolean; reason: { kind: string; [k: string]: unknown }; text: string }[];
  entries: { name: string; services: string[]; source: string; target: string; answer?: { host: string; addresses: string[] } }[];
  grant: { secondsLeft: number } | null;
  ban: { inKernel: boolean; jails: { jail: string; secondsLeft: number | null }[] } | null;
  drift: string[]; fixes: string[];
}

describe('tm3 why: the verdict and its reason, from the kernel (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let phone: Lab['server'], stranger: Lab['server'], banned: Lab['server'], odd: Lab['server'];
  const sock = () => path.join(lab.root, 'run/fail2ban/fail2ban.sock');
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const why = async (address: string, port?: string): Promise<WhyJson> => JSON.parse((await ok(['why', address, ...(port ? [port] : []), '--json'])).stdout);
  /** tm3 why's verdict and a real probe from `client` must agree; returns the verdict */
  const agree = async (client: Lab['server'], family: 4 | 6, port: Port, want: boolean): Promise<WhyJson> => {
    const w = await why(family === 4 ? client.v4 : client.v6, port);
    const probe = (await reachable(lab, client, family, [port]))[port];
    expect({ why: w.accepted, probe }, `${client.ns} v${family} ${port}: ${w.summary}`).to.deep.equal({ why: want, probe: want });
    return w;
  };

  before(async function () {
    requireLab(this, ['fail2ban-server', 'fail2ban-client', 'knockd']);
    lab = await Lab.create(4);
    [phone, stranger, banned, odd] = lab.clients;
    await lab.startResponder();
    lab.writeConfig('grant_seconds = 600\n', { fail2ban: true });
    fs.appendFileSync(path.join(lab.root, 'etc/tm3/tm3.conf'), '[firewall]\ntrusted = 127.0.0.0/8, ::1, 198.51.100.0/24\nopen = udp/10000:20000\n');
    await lab.startDns({ 'phone.example.org': [phone.v4] });
    await ok(['restart']);
    await ok(['add-ip', 'desk', phone.v4, '--services', 'sip']);
    await ok(['add-fqdn', 'roamer', 'phone.example.org', '--services', 'iax']);
  });
  after(async () => { await lab?.destroy(); });

  it('an entry: accepted for its services, with its name, services and source; dropped elsewhere with the add-ip that would let it in', async () => {
    const w = await agree(phone, 4, 'udp/5060', true);
    expect(Object.keys(w)).to.deep.equal(['address', 'family', 'port', 'accepted', 'summary', 'checks', 'entries', 'grant', 'ban', 'drift', 'fixes']);
    expect(w).to.deep.include({ address: phone.v4, family: 4, port: 'udp/5060', accepted: true, grant: null, ban: { inKernel: false, jails: [] }, drift: [], fixes: [] });
    expect(w.checks).to.deep.equal([{ proto: 'udp', port: 5060, service: 'sip', accepted: true, reason: { kind: 'entry', set: 'tm3-sip-4', service: 'sip', entries: ['desk'] }, text: w.checks[0].text }]);
    expect(w.entries.map((e) => e.name)).to.deep.equal(['desk', 'roamer']);
    expect(w.entries[0]).to.deep.include({ name: 'desk', target: `${phone.v4}/32`, kind: 'address', services: ['sip'], source: 'admin', addresses: [`${phone.v4}/32`] });
    expect(w.summary).to.match(/ACCEPTED: entry desk \(services sip; source admin; 192\.0\.2\.10\/32\)/);
    const ssh = await agree(phone, 4, 'tcp/22', false);
    expect(ssh.checks[0].reason.kind).to.equal('policy');
    expect(ssh.fixes).to.include(`tm3 add-ip NAME ${phone.v4} --services ssh`);
    const text = (await ok(['why', phone.v4, 'tcp/22'])).stdout;
    expect(text).to.match(/DROPPED: not whitelisted/).and.match(/to let it in: tm3 add-ip NAME 192\.0\.2\.10 --services ssh/);
  });

  it('an fqdn entry names the DNS answer it came from', async () => {
    const w = await agree(phone, 4, 'udp/4569', true);
    expect(w.summary).to.match(/entry roamer \(services iax; source admin; phone\.example\.org, from the DNS answer 192\.0\.2\.10\/32 of /);
    expect(w.entries.find((e) => e.name === 'roamer')?.answer?.addresses).to.deep.equal([`${phone.v4}/32`]);
  });

  it('no port: every service of the catalog, grouped by reason', async () => {
    const w = await why(phone.v4);
    expect(w.port).to.equal(null);
    expect(w.accepted).to.equal(true);
    const acc = [...new Set(w.checks.filter((c) => c.accepted).map((c) => c.service))];
    expect(acc).to.have.members(['sip', 'sip-udp', 'sip-tcp', 'iax']);
    expect(w.fixes, 'in already: nothing to suggest').to.deep.equal([]);
    const text = (await ok(['why', phone.v4])).stdout;
    expect(text).to.match(/^192\.0\.2\.10: ACCEPTED for sip, sip-udp, sip-tcp, iax$/m);
    expect(text).to.match(/^  sip,sip-udp,sip-tcp accepted: entry desk \(services sip; source admin; 192\.0\.2\.10\/32\)$/m);
    expect(text).to.match(/^  web,webmin,ftp,tftp,ssh,fop dropped: not whitelisted$/m);
  });

  it('a stranger: not whitelisted, dropped; the fix names the service covering the port', async () => {
    const w = await agree(stranger, 4, 'udp/5060', false);
    expect(w.summary).to.match(/DROPPED: not whitelisted/);
    expect(w.fixes[0]).to.equal(`tm3 add-ip NAME ${stranger.v4} --services sip`);
    expect(w.fixes).to.include('knock from it (the sequence is in /root/knock.FAQ)');
    const all = await why(stranger.v4);
    expect(all.accepted).to.equal(false);
    expect(all.summary).to.match(/DROPPED for every service/);
    expect(all.fixes[0]).to.equal(`tm3 add-ip NAME ${stranger.v4} --services sip`);
  });

  it('an open port: accepted for everyone, and said so', async () => {
    const w = await agree(stranger, 4, 'udp/10000', true);
    expect(w.checks[0].reason).to.deep.equal({ kind: 'open', ports: 'udp/10000:20000' });
  });

  it('a trusted network', async () => {
    const lan = await lab.addLan();
    const w = await why(lan.v4, 'tcp/22');
    expect(w.checks[0].reason).to.deep.equal({ kind: 'trusted', network: '198.51.100.0/24' });
    expect(w.accepted).to.equal(true);
    expect((await reachable(lab, lan, 4, ['tcp/22']))['tcp/22'], 'probe from the LAN').to.equal(true);
  });

  it('a live knock grant, with its time left', async () => {
    await ok(['knock', 'grant', stranger.v4]);
    const w = await agree(stranger, 4, 'tcp/22', true);
    expect(w.checks[0].reason.kind).to.equal('knock');
    expect(w.grant?.secondsLeft).to.be.within(590, 600);
    expect(w.summary).to.match(/a live knock grant \((9|10)m left\)/);
    await ok(['knock', 'revoke', stranger.v4]);
    await agree(stranger, 4, 'tcp/22', false);
  });

  it('banned by a jail, with its time left; the ban comes before the whitelist; status flags it', async () => {
    await ok(['add-ip', 'hotel', banned.v4, '--services', 'sip', '--ban', 'allow']);
    await agree(banned, 4, 'udp/5060', true);
    await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock(), 'set', 'asterisk', 'banip', banned.v4]);
    const w = await agree(banned, 4, 'udp/5060', false);
    expect(w.checks[0].reason.kind).to.equal('banned');
    expect(w.ban?.inKernel).to.equal(true);
    expect(w.ban?.jails).to.have.length(1);
    expect(w.ban?.jails[0].jail).to.equal('asterisk');
    expect(w.ban?.jails[0].secondsLeft).to.be.within(3500, 3600);
    expect(w.summary).to.match(/banned by Fail2Ban \(asterisk, (59|60)m left; set tm3-ban-4\)/);
    // whitelisted already: lifting the ban is all it takes, no new entry, no knock (grants are bannable)
    expect(w.fixes).to.deep.equal([`tm3 unban ${banned.v4}`]);
    const st = JSON.parse((await ok(['status', '--json'])).stdout);
    expect(st.banDetails).to.deep.include({ address: banned.v4, jails: [{ jail: 'asterisk', secondsLeft: st.banDetails.find((b: { address: string }) => b.address === banned.v4).jails[0].secondsLeft }], whitelisted: ['hotel'] });
    const text = (await ok(['status'])).stdout;
    expect(text).to.match(/192\.0\.2\.30 +asterisk \((59|60)m left\) +WHITELISTED \(hotel\) AND BANNED/);
    await ok(['unban', banned.v4]);
    await agree(banned, 4, 'udp/5060', true);
  });

  it('the kernel, not the files: an entry missing from the kernel set is dropped, and why says run tm3 restart', async () => {
    await lab.exec(lab.server.ns, 'ipset', ['del', 'tm3-sip-4', `${phone.v4}`]);
    const w = await agree(phone, 4, 'udp/5060', false);
    expect(w.drift.join('\n')).to.match(/the files accept udp\/5060 \(entry desk .*\), but the kernel drops it \(run tm3 restart\)/);
    expect(w.fixes).to.include('tm3 restart');
    await ok(['restart']);
    await agree(phone, 4, 'udp/5060', true);
  });

  it('and the other way: an address put into a kernel set by hand is accepted, with no entry to explain it', async () => {
    await lab.exec(lab.server.ns, 'ipset', ['add', 'tm3-ssh-4', odd.v4]);
    // a stranger leaves tm3's chain after one lookup in the union of the whitelist sets: a member
    // of a service set alone is still dropped, and why follows the kernel there too
    await agree(odd, 4, 'tcp/22', false);
    await lab.exec(lab.server.ns, 'ipset', ['add', 'tm3-known-4', odd.v4]);
    const w = await agree(odd, 4, 'tcp/22', true);
    expect(w.checks[0].reason).to.deep.include({ kind: 'entry', service: 'ssh', entries: [] });
    expect(w.summary).to.match(/set tm3-ssh-4, which no entry in the files explains/);
    expect(w.drift.join('\n')).to.match(/the kernel accepts tcp\/22 .* but the files do not \(run tm3 restart/);
    await ok(['restart']);
    await agree(odd, 4, 'tcp/22', false);
  });

  it('a deny in the ADMIN SECTION comes before the whitelist, and why names that rule', async () => {
    await ok(['add-ip', 'blocked', odd.v4, '--services', 'sip']);
    await agree(odd, 4, 'udp/5060', true);
    const custom = path.join(lab.root, 'usr/local/sbin/iptables-custom');
    const text = fs.readFileSync(custom, 'utf8');
    const begin = text.indexOf('# >>> ADMIN SECTION');
    const eol = text.indexOf('\n', begin) + 1;
    fs.writeFileSync(custom, `${text.slice(0, eol)}iptables -A TM3-ADMIN -s ${odd.v4} -p udp --dport 5060 -j DROP\n${text.slice(eol)}`);
    await ok(['restart']);
    const w = await agree(odd, 4, 'udp/5060', false);
    expect(w.checks[0].reason.kind).to.equal('rule');
    expect(w.summary).to.match(/DROPPED: a rule tm3 did not write \(the ADMIN SECTION of iptables-custom, or typed by hand\): -A TM3-ADMIN -s 192\.0\.2\.40\/32 -p udp/);
    expect(w.drift, 'the ADMIN SECTION holds it: the files agree').to.deep.equal([]);
    expect(w.fixes[0]).to.match(/^take that rule out of the ADMIN SECTION of .*iptables-custom, then tm3 restart$/);
    fs.writeFileSync(custom, text);
    await ok(['restart']);
    await ok(['del-acct', 'blocked']);
  });

  it('IPv6', async () => {
    await ok(['add-ip', 'desk6', phone.v6, '--services', 'sip']);
    const w = await agree(phone, 6, 'udp/5060', true);
    expect(w.family).to.equal(6);
    expect(w.summary).to.match(/entry desk6/);
    await agree(stranger, 6, 'udp/5060', false);
    await agree(phone, 6, 'tcp/22', false);
    // a v6 ban, ahead of the port open to everyone
    await agree(stranger, 6, 'udp/10000', true);
    await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock(), 'set', 'asterisk', 'banip', stranger.v6]);
    const b = await agree(stranger, 6, 'udp/10000', false);
    expect(b.checks[0].reason).to.deep.equal({ kind: 'banned', set: 'tm3-ban-6' });
    expect(b.ban?.jails.map((j) => j.jail)).to.deep.equal(['asterisk']);
    await ok(['unban', stranger.v6]);
    await agree(stranger, 6, 'udp/10000', true);
  });

  it('bad input: one line naming the fix, exit 2', async () => {
    for (const [args, fix] of [
      [['why', 'phone.example.org'], /not an IP address \(fix: /],
      [['why', '192.0.2.0/24'], /must be a single address \(fix: drop the \/prefix\)/],
      [['why', '192.0.2.10', 'udp/99999'], /'udp\/99999' is not PROTO\/PORT \(fix: write the protocol and one port 1-65535, e\.g\. udp\/5060/],
      [['why', '192.0.2.10', 'sip'], /'sip' is not PROTO\/PORT/],
    ] as [string[], RegExp][]) {
      const r = await lab.tm3(args);
      expect(r.exitCode, args.join(' ')).to.equal(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(r.stderr).to.match(fix);
    }
    expect((await why(phone.v4, '5060/udp')).port, '5060/udp is read too').to.equal('udp/5060');
  });

  it('list ADDRESS and status ADDRESS show only the entries that hold or cover it; status ADDRESS also its grant and ban', async () => {
    await ok(['add-ip', 'office', '192.0.2.0/24', '--services', 'web']);
    const list = JSON.parse((await ok(['list', phone.v4, '--json'])).stdout) as { name: string }[];
    expect(list.map((e) => e.name).sort()).to.deep.equal(['desk', 'office', 'roamer']);
    const text = (await ok(['list', stranger.v4])).stdout;
    expect(text).to.match(/office/).and.not.match(/desk|roamer|hotel/);
    const none = await ok(['list', '203.0.113.99']);
    expect(none.stdout).to.match(/no entry holds or covers 203\.0\.113\.99/);
    expect(JSON.parse((await ok(['list', phone.v6, '--json'])).stdout).map((e: { name: string }) => e.name)).to.deep.equal(['desk6']);
    expect(JSON.parse((await ok(['list', 'phone.example.org', '--json'])).stdout).map((e: { name: string }) => e.name), 'a name').to.deep.equal(['roamer']);
    await ok(['knock', 'grant', stranger.v4]);
    await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock(), 'set', 'asterisk', 'banip', '203.0.113.66']);
    const st = JSON.parse((await ok(['status', stranger.v4, '--json'])).stdout);
    expect(st.entries.map((e: { name: string }) => e.name)).to.deep.equal(['office']);
    expect(st.grants.map((g: { address: string }) => g.address)).to.deep.equal([stranger.v4]);
    expect(st.bans).to.deep.equal([]);
    const st2 = JSON.parse((await ok(['status', '203.0.113.66', '--json'])).stdout);
    expect(st2.entries).to.deep.equal([]);
    expect(st2.grants).to.deep.equal([]);
    expect(st2.bans).to.deep.equal(['203.0.113.66']);
    const badList = await lab.tm3(['list', 'nonsense!']);
    expect(badList.exitCode).to.equal(2);
    const bad = await lab.tm3(['status', '192.0.2.300']);
    expect(bad.exitCode).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
  });

  it('a kernel that lost the firewall (a flushed INPUT, policy ACCEPT): why says accepted, as the probe finds, and that the files disagree', async () => {
    await lab.wipeKernel();
    const w = await agree(stranger, 4, 'udp/5060', true);
    expect(w.checks[0].reason).to.deep.equal({ kind: 'policy', policy: 'ACCEPT' });
    expect(w.summary).to.match(/ACCEPTED: INPUT policy ACCEPT: the firewall is not active/);
    expect(w.drift.join('\n')).to.match(/the kernel accepts udp\/5060 .* but the files do not \(run tm3 restart/);
    await ok(['restart']);
    await agree(stranger, 4, 'udp/5060', false);
  });
});
