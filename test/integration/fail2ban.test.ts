import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { reachable, expectOnly } from './access.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/asterisk/full', import.meta.url));

/** Asterisk's log time format, local time: [2026-11-25 18:50:01] */
const stamp = (d = new Date()) => {
  const p = (n: number) => String(n).padStart(2, '0');
  return `[${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}]`;
};

/** A dozen failures in the three formats Asterisk writes: chan_sip, PJSIP, res_security_log. */
function failures(ip: string): string {
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    lines.push(`${stamp()} NOTICE[4211] chan_sip.c: Registration from '"10${i}" <sip:10${i}@192.0.2.1>' failed for '${ip}:5060' - Wrong password`);
    lines.push(`${stamp()} NOTICE[4212] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:20${i}@192.0.2.1>' failed for '${ip}:5060' (callid: c${i}a1b2) - No matching endpoint found`);
    lines.push(`${stamp()} SECURITY[4213] res_security_log.c: SecurityEvent="InvalidAccountID",EventTV="${new Date().toISOString()}",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="30${i}",SessionID="0x${i}",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/${ip}/5060"`);
  }
  return `${lines.join('\n')}\n`;
}

const UDP_FLOW = `
const dgram = require('node:dgram');
const [host, port, src, n] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
let got = 0;
s.on('message', () => { got++; });
s.bind(Number(src), async () => {
  for (let i = 0; i < Number(n); i++) { s.send('flow ' + i, Number(port), host); await new Promise((r) => setTimeout(r, 100)); }
  setTimeout(() => { console.log(got); s.close(); }, 300);
});`;

describe('Fail2Ban as the second layer, real fail2ban-server (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let attacker: Lab['server'], admin: Lab['server'], flow: Lab['server'];
  let log: string;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const bans = async (): Promise<string[]> => JSON.parse((await ok(['status', '--json'])).stdout).bans;

  before(async function () {
    requireLab(this, ['fail2ban-server', 'fail2ban-client', 'knockd']);
    lab = await Lab.create(3);
    [attacker, admin, flow] = lab.clients;
    await lab.startResponder();
    lab.writeConfig('', { fail2ban: true });
    // a legacy jail.local with its own per-jail ignoreip, which beats any [DEFAULT]: tm3's jails
    // must still never ban what the whitelist trusts
    fs.mkdirSync(path.join(lab.root, 'etc/fail2ban'), { recursive: true });
    fs.writeFileSync(path.join(lab.root, 'etc/fail2ban/jail.local'), '[asterisk]\nignoreip = 127.0.0.1/8\n[sshd]\nignoreip = 127.0.0.1/8\n');
    const r = await ok(['restart']);
    expect(r.stdout).to.match(/fail2ban started/);
    log = path.join(lab.root, 'var/log/asterisk/full');
  });
  after(async () => { await lab?.destroy(); });

  it('5. fail2ban-client -t accepts the rendered configuration', async () => {
    const r = await lab.tm3(['fail2ban', 'test']);
    expect(r.exitCode, r.stdout + r.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(lab.root, 'etc/fail2ban/jail.d/tm3.local'), 'utf8')).to.include(`logpath = ${log}`);
  });

  it('1. a dozen failures from a knock-granted client ban it within 15 s, on every port', async () => {
    const { sequence } = JSON.parse((await ok(['knock', 'status', '--json'])).stdout);
    await lab.knock(attacker, sequence);
    await new Promise((r) => setTimeout(r, 800));
    await expectOnly(lab, attacker, 4, ['tcp/22', 'udp/5060'], ['tcp/22', 'udp/5060']);
    await ok(['add-ip', 'office', admin.v4, '--services', 'sip']);
    const t0 = Date.now();
    fs.appendFileSync(log, failures(attacker.v4) + failures(admin.v4));
    let bannedAfter = -1;
    while (Date.now() - t0 < 15_000) {
      const r = await reachable(lab, attacker, 4, ['tcp/22', 'udp/5060']);
      if (!r['tcp/22'] && !r['udp/5060']) { bannedAfter = Date.now() - t0; break; }
      await new Promise((r2) => setTimeout(r2, 250));
    }
    expect(bannedAfter, 'ms until banned').to.be.within(0, 15_000);
    expect(await bans()).to.include(attacker.v4);
  });

  it('2. the same failures from an admin-whitelisted client do not ban it', async () => {
    await new Promise((r) => setTimeout(r, 3000));
    expect(await bans()).not.to.include(admin.v4);
    await expectOnly(lab, admin, 4, ['udp/5060'], ['udp/5060', 'tcp/22']);
  });

  it('a ban also ends a UDP flow that conntrack already calls ESTABLISHED', async () => {
    // One socket, one source port: N datagrams to udp/5060, prints how many echoes came back.
    const send = async (n: number) => Number((await lab.exec(flow.ns, process.execPath, ['-e', UDP_FLOW, lab.server.v4, '5060', '40123', String(n)])).stdout.trim());
    await ok(['knock', 'grant', flow.v4]); // knock grants stay bannable
    // echoes on the same 5-tuple: from here on conntrack sees this flow as ESTABLISHED
    expect(await send(5), 'echoes before the ban').to.equal(5);
    await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', path.join(lab.root, 'run/fail2ban/fail2ban.sock'), 'set', 'asterisk', 'banip', flow.v4]);
    expect(await send(5), 'echoes after the ban, same flow').to.equal(0);
  });

  it('tm3 unban lifts a ban in the kernel and in every jail; --dry-run changes nothing; a non-address is refused', async () => {
    // flow.v4 was banned by hand in the asterisk jail just above (it still holds a knock grant)
    expect(await bans()).to.include(flow.v4);
    const dry = await ok(['unban', flow.v4, '--dry-run']);
    expect(dry.stdout).to.match(/would lift the ban on 192\.0\.2\.30/);
    expect(await bans(), 'after --dry-run').to.include(flow.v4);
    const r = await ok(['unban', flow.v4]);
    expect(r.stdout).to.match(/unbanned 192\.0\.2\.30/);
    expect(await bans()).not.to.include(flow.v4);
    const jail = await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', path.join(lab.root, 'run/fail2ban/fail2ban.sock'), 'status', 'asterisk']);
    expect(jail.stdout, 'the jail\'s own list').not.to.include(flow.v4);
    expect(await reachable(lab, flow, 4, ['udp/5060']), 'the grant works again').to.deep.equal({ 'udp/5060': true });
    expect((await ok(['unban', flow.v4])).stdout).to.match(/was not banned/);
    const bad = await lab.tm3(['unban', '192.0.2.0/24']);
    expect(bad.exitCode).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.match(/must be a single address \(fix: drop the \/prefix\)/);
  });

  it('3. after tm3 restart the banned client is still banned', async () => {
    await ok(['restart']);
    await expectOnly(lab, attacker, 4, [], ['tcp/22', 'udp/5060']);
    expect(await bans()).to.include(attacker.v4);
  });

  it('4. tm3 add-ip of the banned address: the ban is lifted within 2 s of its return', async () => {
    // from the moment add-ip returns (on a loaded CI machine the command alone can take 2 s)
    await ok(['add-ip', 'forgiven', attacker.v4, '--services', 'ssh']);
    const t0 = Date.now();
    let inAfter = -1;
    while (Date.now() - t0 < 2000) {
      if ((await reachable(lab, attacker, 4, ['tcp/22']))['tcp/22']) { inAfter = Date.now() - t0; break; }
    }
    expect(inAfter, 'ms until the ban was lifted').to.be.within(0, 2000);
    const jail = await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', path.join(lab.root, 'run/fail2ban/fail2ban.sock'), 'status', 'asterisk']);
    expect(jail.stdout).not.to.include(attacker.v4);
  });
  it("who is never banned: loopback, the server's own addresses, admin entries; knock grants and --ban allow entries may be", async () => {
    await ok(['add-ip', 'hotel', '203.0.113.77', '--services', 'sip', '--ban', 'allow']);
    expect(fs.readFileSync(path.join(lab.root, 'root/hotel.iptables'), 'utf8')).to.match(/^ban=allow$/m);
    const cases: [string, number][] = [
      ['127.0.0.1', 0], ['::1', 0], [lab.server.v4, 0], [lab.server.v6, 0], [admin.v4, 0],
      [flow.v4, 1], ['203.0.113.77', 1], ['198.51.100.250', 1], ['not-an-ip', 1],
    ];
    for (const [ip, code] of cases) expect((await lab.tm3(['fail2ban', 'ignore', ip])).exitCode, ip).to.equal(code);
    const bad = await lab.tm3(['add-ip', 'x', '203.0.113.78', '--ban', 'sometimes']);
    expect(bad.exitCode).to.equal(2);
    expect(bad.stderr).to.match(/--ban 'sometimes' is neither never nor allow \(fix: /);
  });
  it("the jails' never-banned list follows the whitelist, with no process per attacker", async () => {
    const sock = path.join(lab.root, 'run/fail2ban/fail2ban.sock');
    const ignored = async () => (await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock, 'get', 'asterisk', 'ignoreip'])).stdout;
    expect(fs.readFileSync(path.join(lab.root, 'etc/fail2ban/jail.d/tm3.local'), 'utf8')).not.to.include('ignorecommand');
    expect(await ignored(), 'the admin entry and the server').to.include(admin.v4).and.to.include(lab.server.v4);
    await ok(['add-ip', 'laptop', '203.0.113.50', '--services', 'ssh']);
    expect(await ignored()).to.include('203.0.113.50');
    expect(fs.readFileSync(path.join(lab.root, 'etc/fail2ban/jail.d/tm3.local'), 'utf8')).to.include('203.0.113.50');
    await ok(['del-acct', 'laptop']);
    expect(await ignored()).not.to.include('203.0.113.50');
    const doc = await lab.tm3(['doctor']);
    expect(doc.stdout).not.to.match(/tm3\.local differs/);
  });

  it('bans stay in the kernel while Fail2Ban stops, and after it starts again', async () => {
    const sock = path.join(lab.root, 'run/fail2ban/fail2ban.sock');
    await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock, 'set', 'asterisk', 'banip', '198.51.100.66']);
    const banned = async () => (await lab.exec(lab.server.ns, 'ipset', ['list', 'tm3-ban-4'])).stdout.includes('198.51.100.66');
    expect(await banned(), 'banned').to.equal(true);
    await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock, 'stop']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await banned(), 'still banned with Fail2Ban stopped').to.equal(true);
    await ok(['restart']);
    expect(await banned(), 'still banned after Fail2Ban started again').to.equal(true);
  });

  it("[fail2ban] maxretry reaches the asterisk jail too, over jail.conf's own maxretry = 10", async () => {
    lab.writeConfig('', { fail2ban: true });
    const conf = path.join(lab.root, 'etc/tm3/tm3.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('enabled = true\n', 'enabled = true\nmaxretry = 3\n'));
    await ok(['restart']);
    expect((await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', path.join(lab.root, 'run/fail2ban/fail2ban.sock'), 'get', 'asterisk', 'maxretry'])).stdout.trim()).to.equal('3');
    const ip = '198.51.100.77';
    const one = (i: number) => `${stamp()} NOTICE[4211] chan_sip.c: Registration from '"4${i}" <sip:4${i}@192.0.2.1>' failed for '${ip}:5060' - Wrong password\n`;
    // fail2ban's own log says when the jail has read each line ("Found") and when it decided ("Ban"):
    // so each line is judged once the jail has seen it, not after a guess at how long that takes
    const f2bLog = path.join(lab.root, 'var/log/fail2ban.log');
    const said = (what: 'Found' | 'Ban') => (fs.existsSync(f2bLog) ? fs.readFileSync(f2bLog, 'utf8') : '').split('\n').filter((l) => l.includes(`[asterisk] ${what} ${ip}`)).length;
    const until = async (cond: () => boolean | Promise<boolean>, ms: number) => {
      for (const t0 = Date.now(); Date.now() - t0 < ms;) {
        if (await cond()) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return cond();
    };
    let failures = 0;
    let bannedAt = -1;
    for (let i = 0; i < 10 && bannedAt < 0; i++) {
      fs.appendFileSync(log, one(i));
      failures++;
      expect(await until(() => said('Found') >= failures, 10_000), `the jail read failure ${failures}`).to.equal(true);
      // a ban follows its Found within a moment (the actions thread wakes on the ticket)
      await until(() => said('Ban') > 0, 1500);
      if (said('Ban') > 0 || (await bans()).includes(ip)) {
        expect(await until(async () => (await bans()).includes(ip), 5000), 'the ban fail2ban logged, in tm3 status').to.equal(true);
        bannedAt = failures;
      }
    }
    console.log(`      failures until the ban: ${bannedAt}`);
    expect(bannedAt).to.equal(3);
  });

  it('a forged log line naming a trusted LAN address bans nobody; the jail itself ignores the trusted networks', async () => {
    const sock = path.join(lab.root, 'run/fail2ban/fail2ban.sock');
    const ignored = (await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock, 'get', 'asterisk', 'ignoreip'])).stdout;
    expect(ignored).to.include('192.168.0.0/16').and.to.include('10.0.0.0/8');
    fs.appendFileSync(log, failures('192.168.1.50') + failures('10.1.2.3'));
    await new Promise((r) => setTimeout(r, 4000));
    const now = await bans();
    expect(now).not.to.include('192.168.1.50');
    expect(now).not.to.include('10.1.2.3');
  });

  it("tm3's own failure never becomes a ban: a broken tm3.conf makes fail2ban ignore say ignore, loudly", async () => {
    const conf = path.join(lab.root, 'etc/tm3/tm3.conf');
    const good = fs.readFileSync(conf, 'utf8');
    try {
      fs.writeFileSync(conf, `${good}[firewal]\n`);
      const r = await lab.tm3(['fail2ban', 'ignore', '198.51.100.250']);
      expect(r.exitCode).to.equal(0);
      expect(r.stderr).to.match(/tm3 could not decide .*unknown section \[firewal\].*not banning on tm3's own failure/);
    } finally {
      fs.writeFileSync(conf, good);
    }
    expect((await lab.tm3(['fail2ban', 'ignore', '198.51.100.250'])).exitCode, 'a stranger may be banned again').to.equal(1);
  });

  it("a short jail's ban ending never lifts or shortens a longer jail's ban; unban --all lifts them all", async () => {
    // Every jail shares tm3-ban-4. flow.v4 is held by recidive (a week) and then by sshd for
    // 2 s; 198.51.100.67 the other way round. When sshd's ban ends, both must stay banned
    // with recidive's week left: a weaker action either lowers the kernel timeout to 2 s
    // (first order) or deletes the member on sshd's unban (second order).
    const sock = path.join(lab.root, 'run/fail2ban/fail2ban.sock');
    const f2b = (...a: string[]) => lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock, ...a]);
    const other = '198.51.100.67';
    const timeoutOf = async (ip: string): Promise<number | null> => {
      const m = (await lab.exec(lab.server.ns, 'ipset', ['list', 'tm3-ban-4'])).stdout.match(new RegExp(`^${ip.replace(/\./g, '\\.')} timeout (\\d+)`, 'm'));
      return m ? Number(m[1]) : null;
    };
    // unban --all below lifts every ban, so this runs after the tests that need theirs
    await ok(['add-ip', 'flow-phone', flow.v4, '--services', 'sip']);
    expect(await reachable(lab, flow, 4, ['udp/5060']), 'flow reaches SIP before').to.deep.equal({ 'udp/5060': true });
    const bantime = (await f2b('get', 'sshd', 'bantime')).stdout.trim();
    await f2b('set', 'sshd', 'bantime', '2');
    try {
      await f2b('set', 'recidive', 'banip', flow.v4);
      await f2b('set', 'sshd', 'banip', flow.v4, other);
      await f2b('set', 'recidive', 'banip', other);
      const sshdHolds = async () => (await f2b('status', 'sshd')).stdout.match(/Banned IP list:(.*)/)![1];
      const until = Date.now() + 15_000;
      while (/\S/.test(await sshdHolds()) && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
      expect(await sshdHolds(), "sshd's 2 s bans ended").not.to.match(/\S/);
      await new Promise((r) => setTimeout(r, 1000)); // past sshd's 2 s in the kernel too
      for (const ip of [flow.v4, other]) expect(await timeoutOf(ip), `${ip}: recidive's week left in the kernel`).to.be.greaterThan(600_000);
      expect(await reachable(lab, flow, 4, ['udp/5060']), "recidive's ban still drops flow's packets").to.deep.equal({ 'udp/5060': false });
      // the admin's "lift everything": the jails stay up, so the kernel must follow
      await f2b('unban', '--all');
      for (const ip of [flow.v4, other]) expect(await timeoutOf(ip), `${ip} after unban --all`).to.equal(null);
      expect(await reachable(lab, flow, 4, ['udp/5060']), 'flow reaches SIP again').to.deep.equal({ 'udp/5060': true });
    } finally {
      await f2b('set', 'sshd', 'bantime', bantime);
    }
  });

  it('[fail2ban] enabled = false switches the layer off: the fail2ban-server tm3 started stops', async () => {
    const ping = () => lab.exec(lab.server.ns, 'fail2ban-client', ['-s', path.join(lab.root, 'run/fail2ban/fail2ban.sock'), 'ping'], { reject: false });
    expect((await ping()).exitCode, 'running before').to.equal(0);
    lab.writeConfig('', { fail2ban: false });
    expect((await ok(['restart'])).stdout).to.match(/fail2ban disabled in config/);
    expect((await ping()).exitCode, 'stopped after').to.not.equal(0);
  });
});

describe('the asterisk filter over annotated samples (fail2ban-regex)', () => {
  before(function () { requireLab(this, ['fail2ban-regex']); });

  it('6. matches exactly the lines marked "match": true, with their host and time', async () => {
    const lines = fs.readFileSync(FIXTURE, 'utf8').split('\n');
    const want: { host: string; time: number }[] = [];
    let annotated = 0;
    lines.forEach((l, i) => {
      const m = /^# failJSON: (.*)$/.exec(l);
      if (!m) return;
      annotated++;
      const j = JSON.parse(m[1]) as { match: boolean; host?: string; time?: string };
      expect(lines[i + 1], `line after annotation ${annotated}`).to.match(/^\[/);
      if (j.match) want.push({ host: j.host!, time: Date.parse(`${j.time}Z`) / 1000 });
    });
    expect(annotated).to.be.at.least(10);
    const plain = path.join(fs.mkdtempSync('/tmp/tm3-f2b-'), 'full');
    fs.writeFileSync(plain, lines.filter((l) => !l.startsWith('#')).join('\n'));
    const r = await execa('fail2ban-regex', ['-o', 'row', plain, '/etc/fail2ban/filter.d/asterisk.conf'], { env: { TZ: 'UTC' } });
    const got = r.stdout.split('\n').filter(Boolean).map((row) => {
      const m = /^\['([^']+)',\s+([0-9.]+),/.exec(row);
      return { host: m![1], time: Number(m![2]) };
    });
    expect(got).to.deep.equal(want);
    fs.rmSync(path.dirname(plain), { recursive: true });
  });
});
