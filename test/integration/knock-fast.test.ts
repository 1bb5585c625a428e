import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { reachable } from './access.js';

// knockd opens the door through a shell script (templates/knock-grant.hbs), not Node. It must
// keep every rule `tm3 knock grant` keeps: a banned knocker gets nothing, and %IP% text that is
// not a single client address changes nothing. Its verdict on an address must be Node's.

describe('knock fast path (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let client: Lab['server'];
  let script: string;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const sequence = async (): Promise<number[]> => JSON.parse((await ok(['knock', 'status', '--json'])).stdout).sequence;
  const runScript = (args: string[]) => execa('ip', ['netns', 'exec', lab.server.ns, script, ...args], { reject: false, env: { TM3_NO_SYSLOG: '1', LC_ALL: 'C' } });
  const grants = async () => (await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout.split('\n').filter((l) => /^add tm3-knock-[46] /.test(l)).map((l) => l.split(' ')[2]);
  const flushGrants = async () => { for (const s of ['tm3-knock-4', 'tm3-knock-6']) await lab.exec(lab.server.ns, 'ipset', ['flush', s]); };
  const sshOpensWithin = async (ms: number) => {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) if ((await reachable(lab, client, 4, ['tcp/22']))['tcp/22']) return true;
    return false;
  };

  before(async function () {
    requireLab(this, ['knockd', 'pgrep']);
    lab = await Lab.create(1);
    [client] = lab.clients;
    await lab.startResponder();
    lab.writeConfig('grant_seconds = 30\n');
    await ok(['restart']);
    script = path.join(lab.root, 'usr/local/sbin/tm3-knock-grant');
  });
  after(async () => { await lab?.destroy(); });

  it('knockd.conf runs the generated script for v4 and v6, and the script names only validated paths', () => {
    const conf = fs.readFileSync(path.join(lab.root, 'etc/knockd.conf'), 'utf8');
    expect(conf.match(/^\s*start_command(?:_6)? = .*$/gm)).to.deep.equal([`\tstart_command = ${script} %IP%`, `\tstart_command_6 = ${script} %IP%`]);
    expect(fs.statSync(script).mode & 0o777).to.equal(0o755);
    const text = fs.readFileSync(script, 'utf8');
    expect(text).to.match(/^#!\/bin\/sh\n/).and.include(`GRANT=30\n`).and.include(`FAIL2BAN=false\n`);
  });

  it('a banned client\'s right knock through the real knockd opens nothing; unbanned, the same knock opens tcp/22', async () => {
    // Fail2Ban is off in this lab, so no rule drops the ban set: only the script's check stands
    // between a banned knocker and the door (the old `tm3 knock grant` gave it a timed grant).
    await lab.exec(lab.server.ns, 'ipset', ['create', 'tm3-ban-4', 'hash:ip', 'timeout', '0']);
    await lab.exec(lab.server.ns, 'ipset', ['add', 'tm3-ban-4', client.v4]);
    await lab.knock(client, await sequence());
    expect(await sshOpensWithin(1500), 'banned knocker reached tcp/22').to.equal(false);
    expect(await grants()).to.deep.equal([]);
    const log = fs.readFileSync(path.join(lab.root, 'var/log/tm3-knockd.log'), 'utf8');
    expect(log, 'knockd ran the script for the banned knock').to.include(`${script} ${client.v4}`);

    await lab.exec(lab.server.ns, 'ipset', ['del', 'tm3-ban-4', client.v4]);
    await lab.knock(client, await sequence());
    expect(await sshOpensWithin(1500), 'the same knock, unbanned').to.equal(true);
    expect(await grants()).to.deep.equal([client.v4]);
    await flushGrants();
  });

  it('fails closed when ipset cannot answer: a ban set of the wrong family refuses every knock', async () => {
    // tm3-ban-4 as a hash:net of the other family makes `ipset test` fail with an error, not "NOT in set"
    await lab.exec(lab.server.ns, 'ipset', ['destroy', 'tm3-ban-4']);
    await lab.exec(lab.server.ns, 'ipset', ['create', 'tm3-ban-4', 'hash:ip', 'family', 'inet6']);
    const r = await runScript([client.v4]);
    expect(r.exitCode, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/could not say whether it is banned/);
    const node = await lab.tm3(['knock', 'grant', client.v4]);
    expect(node.exitCode, node.stderr).to.equal(1);
    expect(await grants()).to.deep.equal([]);
    await lab.exec(lab.server.ns, 'ipset', ['destroy', 'tm3-ban-4']);
  });

  it('malformed %IP% text changes nothing and is answered with one line', async () => {
    const before = (await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout;
    const bad = ['', '010.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.4.', '.1.2.3.4', '1..2.3', '192.0.2.1 ', ' 192.0.2.1', '192.0.2.1;id', '$(reboot)', '`id`', '-h',
      'a.example.org', '192.0.2.0/24', '2001:db8::1::2', '2001:db8:::1', '12345::1', ':1::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '2001:db8::g', '::ffff:192.0.2.1', '64:ff9b::192.0.2.1', '2001:db8::1\nid'];
    for (const ip of bad) {
      const r = await runScript([ip]);
      expect(r.exitCode, `script ${JSON.stringify(ip)}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.trim().split('\n'), ip).to.have.length(1);
      expect(r.stderr).to.match(/not a single IP address/);
    }
    for (const args of [[], ['192.0.2.1', '198.51.100.1']]) expect((await runScript(args)).exitCode).to.equal(2);
    expect((await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout).to.equal(before);
  });

  it('the script and `tm3 knock grant` grant exactly the same addresses', async () => {
    const candidates = ['198.51.100.9', '203.0.113.255', '0.0.0.0', '0.1.2.3', '127.0.0.1', '127.255.0.1', '169.254.1.1', '169.253.1.1', '224.0.0.1', '239.255.255.255', '240.0.0.1', '255.255.255.255', '223.255.255.255', '10.0.0.1',
      '2001:db8::9', '2001:DB8::A', '2001:0db8:0000:0000:0000:0000:0000:0009', '2001:db8:1:2:3:4:5:6', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '::', '::1', '::2', 'fe80::1', 'febf::1', 'fec0::1', 'ff02::1', 'FF05::2', '::ffff:c000:201', '0:0:0:0:0:ffff:c000:201', '::fffe:c000:201'];
    const verdicts: string[] = [];
    for (const ip of candidates) {
      await flushGrants();
      const s = await runScript([ip]);
      const byScript = s.exitCode === 0 && (await grants()).length === 1;
      await flushGrants();
      const n = await lab.tm3(['knock', 'grant', ip]);
      const byNode = n.exitCode === 0 && (await grants()).length === 1;
      expect(byScript, `${ip}: script ${s.exitCode} ${s.stderr.trim()} / tm3 ${n.exitCode} ${n.stderr.trim()}`).to.equal(byNode);
      verdicts.push(`${ip} ${byScript ? 'granted' : 'refused'}`);
    }
    await flushGrants();
    // the list has both kinds, so agreement means something
    expect(verdicts.filter((v) => v.endsWith('granted')).length).to.be.at.least(10);
    expect(verdicts.filter((v) => v.endsWith('refused')).length).to.be.at.least(15);
  });
});
