import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { expect } from 'chai';
import { Lab, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, reachable, PORTS, type Port } from './access.js';

// Issue 18: a knock sequence per person with the real knockd. Each person's section runs the
// POSIX fast path with their name; the grant goes into one timed set per service of theirs, so
// a person with only sip reaches sip and nothing else, over v4 and v6. The fast path audits the
// opening itself; a person's grant ends at their --expires, not later.

const GRANT = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SIP: Port[] = ['tcp/5060', 'udp/5060'];
// a syslog socket: prints every datagram logger sends to it
const LISTEN = `import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
print('ready', flush=True)
s.settimeout(20)
try:
    while True: print(s.recv(8192).decode(errors='replace'), flush=True)
except socket.timeout: pass`;

interface Row { name: string; services: string[]; knock: number[] | null; lastAccess: { from: string; method: string } | null }
interface Line { at: string; person: string | null; address: string; method: string; services: string[]; seconds: number }

describe('personal knock sequences with real knockd (lab)', function () {
  this.timeout(240_000);
  let lab: Lab;
  let alice: Host, bob: Host, carol: Host, stranger: Host, spare: Host;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const people = async () => JSON.parse((await ok(['user', 'list', '--json'])).stdout) as Row[];
  const knockOf = async (name: string) => (await people()).find((p) => p.name === name)!.knock!;
  const site = async () => (JSON.parse((await ok(['knock', 'status', '--json'])).stdout) as { sequence: number[] }).sequence;
  /** Knock, then ms until `port` answers, or -1 after `limit` ms. */
  const knockOpens = async (c: Host, seq: number[], port: Port, limit: number, family: 4 | 6 = 4) => {
    await lab.knock(c, seq, family);
    const t0 = Date.now();
    while (Date.now() - t0 < limit) {
      if ((await reachable(lab, c, family, [port]))[port]) return Date.now() - t0;
      await sleep(100);
    }
    return -1;
  };
  const audit = (): Line[] => fs.readFileSync(path.join(lab.root, 'var/log/tm3/access.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
  /** The grant's seconds left in the kernel, per timed set holding `address`. */
  const kernelGrants = async (address: string) => {
    const out = (await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout;
    return Object.fromEntries([...out.matchAll(/^add (tm3-knock-\S+) (\S+) timeout (\d+)/gm)].filter((m) => m[2] === address).map((m) => [m[1], Number(m[3])]));
  };
  const waitFor = async (what: string, test: () => Promise<boolean> | boolean, ms = 8000) => {
    const t0 = Date.now();
    while (!(await test())) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await sleep(150);
    }
  };

  before(async function () {
    requireLab(this, ['knockd', 'fwknopd']);
    lab = await Lab.create(5);
    [alice, bob, carol, stranger, spare] = lab.clients;
    await lab.startResponder();
    lab.writeConfig(`grant_seconds = ${GRANT}\n`);
    await ok(['restart']);
  });
  after(async () => { await lab?.destroy(); });

  it('user add: three ports each, off every other knock, RTP, the catalog and the probed ports; a knockd section each; the card has the recipes', async () => {
    await ok(['user', 'add', 'alice', '--services', 'ssh']);
    await ok(['user', 'add', 'bob', '--services', 'sip']);
    const a = await knockOf('alice');
    const b = await knockOf('bob');
    const s = await site();
    for (const seq of [a, b]) {
      expect(new Set(seq).size).to.equal(3);
      for (const p of seq) {
        expect(p).to.be.within(1024, 65535);
        expect(p < 10000 || p > 20000, `${p} in RTP`).to.equal(true);
        expect([4445, 4569, 5060, 5061, 5069, 9001, 9022, 9080]).not.to.include(p);
      }
    }
    expect(new Set([...a, ...b, ...s]).size, 'no port shared by two knocks').to.equal(9);
    const conf = fs.readFileSync(path.join(lab.root, 'etc/knockd.conf'), 'utf8');
    expect(conf).to.include(`[tm3-person-alice]\n\tsequence      = ${a.map((p) => `${p}:tcp`).join(',')}`);
    expect(conf).to.match(/start_command = \S+tm3-knock-grant %IP% bob\n/);
    const card = fs.readFileSync(path.join(lab.root, 'root/tm3-users/bob.FAQ'), 'utf8');
    expect(card).to.include(`Knock:   ${b.join(', then ')}`).and.include(`knock -d 500 ${lab.server.v4} ${b.map((p) => `${p}:tcp`).join(' ')}`)
      .and.include('Knock on Ports').and.include('PowerShell').and.include('nmap -Pn -n').and.not.include(s.join(', then '));
  });

  it("a person's knock opens their services only: bob (sip) gets sip and not ssh, over v4 and v6; alice (ssh) gets ssh only; the SPA path likewise", async () => {
    expect(await knockOpens(bob, await knockOf('bob'), 'udp/5060', 3000), "bob's knock, v4").to.be.at.least(0);
    await expectOnly(lab, bob, 4, SIP);
    expect(await knockOpens(bob, await knockOf('bob'), 'tcp/5060', 3000, 6), "bob's knock, v6").to.be.at.least(0);
    await expectOnly(lab, bob, 6, SIP);
    expect(await knockOpens(alice, await knockOf('alice'), 'tcp/22', 3000)).to.be.at.least(0);
    await expectOnly(lab, alice, 4, ['tcp/22']);
    // nobody else, and the kernel holds bob in the sip set alone
    await expectOnly(lab, stranger, 4, []);
    expect(Object.keys(await kernelGrants(bob.v4))).to.deep.equal(['tm3-knock-sip-4']);
    // why tells a person's grant as a knock grant, and refuses ssh for bob
    const why = await lab.tm3(['why', bob.v4, 'udp/5060']);
    expect(why.stdout, why.stdout + why.stderr).to.match(/live knock grant/);
    expect((await lab.tm3(['why', bob.v4, 'tcp/22'])).stdout).not.to.match(/accepted.*knock grant/i);
    // Node, in the background, records whose grant it is and the last access
    await waitFor("bob's last access, from Node in the background", async () => {
      const last = (await people()).find((p) => p.name === 'bob')?.lastAccess;
      return last?.method === 'knock' && last.from === bob.v6;
    });
    // the Node path, which fwknopd's stanza runs for a valid SPA packet, is held to the same sets
    await ok(['knock', 'grant', spare.v6, '--person', 'bob', '--method', 'spa']);
    await expectOnly(lab, spare, 6, SIP);
    await expectOnly(lab, spare, 4, []);
    await ok(['knock', 'revoke', spare.v6]);
    await expectOnly(lab, spare, 6, []);
  });

  it('the fast path audits the opening itself (person, address, method, services, seconds), for a site knock too', async () => {
    const line = audit().filter((l) => l.address === bob.v4 && l.person === 'bob');
    expect(line, JSON.stringify(audit())).to.have.length(1);
    expect(line[0]).to.deep.include({ method: 'knock', services: ['sip'], seconds: GRANT });
    expect(Math.abs(Date.parse(line[0].at) - Date.now())).to.be.below(60_000);
    expect(audit().filter((l) => l.address === bob.v6 && l.person === 'bob')).to.have.length(1);
    // the site knock from the fast path too: person null, [knock] services
    expect(await knockOpens(stranger, await site(), 'tcp/22', 3000)).to.be.at.least(0);
    await expectOnly(lab, stranger, 4, PORTS);
    expect(audit().pop()).to.deep.include({ person: null, address: stranger.v4, method: 'knock', services: ['all'], seconds: GRANT });
  });

  it('the fast path says it to syslog too: a real logger into a syslog socket of the test (its own mount namespace)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-syslog-'));
    const sock = path.join(dir, 'log');
    const listener = spawn('python3', ['-c', LISTEN, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let heard = '';
    listener.stdout.on('data', (d: Buffer) => { heard += d.toString(); });
    try {
      await waitFor('the syslog socket', () => heard.includes('ready'));
      const script = path.join(lab.root, 'usr/local/sbin/tm3-knock-grant');
      // a /dev of its own, so /dev/log is the test's socket: the host's /dev is not touched
      const r = await execa('ip', ['netns', 'exec', lab.server.ns, 'unshare', '-m', 'sh', '-c', 'mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && touch /dev/log && mount --bind "$1" /dev/log && shift && exec "$@"', 'sh', sock, script, spare.v4, 'bob'], { reject: false, env: { TM3_NO_SYSLOG: '0' } });
      expect(r.exitCode, r.stderr).to.equal(0);
      await waitFor('the syslog line', () => heard.includes(`access: person bob from ${spare.v4}`));
      expect(heard).to.match(new RegExp(`^<38>.*tm3: access: person bob from ${spare.v4.replace(/\./g, '\\.')} by knock, sip for ${GRANT}s$`, 'm'));
      await expectOnly(lab, spare, 4, SIP);
    } finally {
      listener.kill();
      fs.rmSync(dir, { recursive: true, force: true });
      await lab.tm3(['knock', 'revoke', spare.v4]);
    }
    await expectOnly(lab, spare, 4, []);
  });

  it('knock status says who still uses the site sequence: its openings and addresses, and the people without a knock of their own', async () => {
    // a person made before personal knocks (no knock= line) has none until a rotate
    const bobConf = fs.readFileSync(path.join(lab.root, 'etc/tm3/users/bob.conf'), 'utf8');
    fs.writeFileSync(path.join(lab.root, 'etc/tm3/users/dora.conf'), bobConf.replace(/^knock *=.*\n/m, ''), { mode: 0o600 });
    const st = JSON.parse((await ok(['knock', 'status', '--json'])).stdout) as { siteSequence: { people: number; withOwnKnock: number; withoutOwnKnock: string[]; openings: number; addresses: number } };
    expect(st.siteSequence).to.deep.include({ people: 3, withOwnKnock: 2, withoutOwnKnock: ['dora'], openings: 1, addresses: 1 });
    const text = (await ok(['knock', 'status'])).stdout;
    expect(text).to.include('opened 1 time(s) from 1 address(es)').and.include('without one: dora');
    fs.rmSync(path.join(lab.root, 'etc/tm3/users/dora.conf'));
  });

  it('an unknown or malformed person name given to the fast path opens nothing', async () => {
    const script = path.join(lab.root, 'usr/local/sbin/tm3-knock-grant');
    for (const name of ['eve', 'bob;id', '*', 'alice bob']) {
      const r = await lab.exec(lab.server.ns, script, [spare.v4, name], { reject: false });
      expect(r.exitCode, name).to.equal(2);
    }
    await expectOnly(lab, spare, 4, []);
  });

  it("revoke bob: his grant ends, his knockd section goes, his sequence opens nothing from anywhere; alice still gets in", async () => {
    const b = await knockOf('bob');
    await ok(['user', 'revoke', 'bob']);
    await expectOnly(lab, bob, 4, []);
    await expectOnly(lab, bob, 6, []);
    expect(fs.readFileSync(path.join(lab.root, 'etc/knockd.conf'), 'utf8')).not.to.include('bob');
    expect(await knockOpens(spare, b, 'udp/5060', 2500), "the revoked person's sequence").to.equal(-1);
    await expectOnly(lab, spare, 4, []);
    await ok(['knock', 'revoke', alice.v4]);
    await expectOnly(lab, alice, 4, []);
    expect(await knockOpens(alice, await knockOf('alice'), 'tcp/22', 3000), "alice's knock after bob's revoke").to.be.at.least(0);
    await expectOnly(lab, alice, 4, ['tcp/22']);
    // the site sequence is nobody's to revoke
    await expectOnly(lab, stranger, 4, PORTS);
  });

  it('a person gone while the fast path still lists them: the door opens for a moment, then Node takes the grant back', async () => {
    await ok(['user', 'add', 'zed', '--services', 'ssh']);
    // gone as a revoke leaves it in its first step (the file), before the fast path is rewritten
    fs.rmSync(path.join(lab.root, 'etc/tm3/users/zed.conf'));
    const r = await lab.exec(lab.server.ns, path.join(lab.root, 'usr/local/sbin/tm3-knock-grant'), [spare.v4, 'zed'], { reject: false });
    expect(r.exitCode, r.stderr).to.equal(0);
    await waitFor('the grant taken back', async () => Object.keys(await kernelGrants(spare.v4)).length === 0, 10_000);
    await expectOnly(lab, spare, 4, []);
    // nothing left to revoke (no file, no grant, no entry); a render drops zed from the fast path
    expect((await lab.tm3(['user', 'revoke', 'zed'])).exitCode).to.equal(2);
    await ok(['render']);
    expect((await lab.exec(lab.server.ns, path.join(lab.root, 'usr/local/sbin/tm3-knock-grant'), [spare.v4, 'zed'], { reject: false })).exitCode).to.equal(2);
  });

  it('rotate: new ports for alice, the old sequence opens nothing', async () => {
    const old = await knockOf('alice');
    await ok(['user', 'rotate', 'alice']);
    const now = await knockOf('alice');
    expect(now.some((p) => old.includes(p))).to.equal(false);
    await ok(['knock', 'revoke', alice.v4]);
    expect(await knockOpens(alice, old, 'tcp/22', 2500), 'the old sequence').to.equal(-1);
    expect(await knockOpens(alice, now, 'tcp/22', 3000), 'the new one').to.be.at.least(0);
  });

  it('a grant never outlives --expires: knock and SPA grants are cut to the time left, and the kernel ends them then, no refresh needed', async () => {
    const until = Date.now() + 14_000;
    await ok(['user', 'add', 'carol', '--services', 'ssh', '--expires', new Date(until).toISOString().replace(/\.\d{3}Z$/, 'Z')]);
    expect(await knockOpens(carol, await knockOf('carol'), 'tcp/22', 3000)).to.be.at.least(0);
    const k = await kernelGrants(carol.v4);
    expect(Object.keys(k)).to.deep.equal(['tm3-knock-ssh-4']);
    expect(k['tm3-knock-ssh-4'], `a ${GRANT}s grant, ${Math.round((until - Date.now()) / 1000)}s before the expiry`).to.be.at.most(Math.ceil((until - Date.now()) / 1000) + 1);
    expect(audit().filter((l) => l.person === 'carol').pop()!.seconds).to.be.at.most(14);
    // the Node path (what fwknopd runs) is held to it too
    await ok(['knock', 'grant', spare.v4, '--person', 'carol', '--method', 'spa']);
    expect((await kernelGrants(spare.v4))['tm3-knock-ssh-4']).to.be.at.most(Math.ceil((until - Date.now()) / 1000) + 1);
    await expectOnly(lab, spare, 4, ['tcp/22']);
    while (Date.now() < until + 1500) await sleep(250);
    await expectOnly(lab, carol, 4, []);
    await expectOnly(lab, spare, 4, []);
    expect(await knockOpens(carol, await knockOf('carol'), 'tcp/22', 2500), 'a knock after the expiry, before any refresh').to.equal(-1);
  });
});
