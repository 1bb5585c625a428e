import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Lab, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, reachable } from './access.js';

// Issue 18: personal SPA keys with the real fwknop client against the real fwknopd, sniffing
// the lab server's interface. Knock grants here open only [knock] services = ssh, so "that
// person's services only" is a real probe: tcp/22 answers, every other port stays silent.

const GRANT = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('personal SPA access with real fwknopd and fwknop (lab)', function () {
  this.timeout(240_000);
  let lab: Lab;
  let alice: Host, bob: Host, thief: Host, stranger: Host, carol: Host;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-fwknop-home-'));
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  /** The keys as the person's card gives them (so the card's command line is what is tested). */
  const keysOf = (name: string) => {
    const card = fs.readFileSync(path.join(lab.root, `root/tm3-users/${name}.FAQ`), 'utf8');
    const m = /fwknop -A tcp\/22 --use-hmac -R -D (\S+) --server-port (\d+) --key-base64-rijndael (\S+) --key-base64-hmac (\S+)/.exec(card);
    expect(m, card).to.not.equal(null);
    return { server: m![1], port: m![2], key: m![3], hmac: m![4] };
  };
  /** The real client: one SPA packet naming `from`'s address, saved to a file; `send: false` builds it only (-T). */
  const spa = async (from: Host, k: { key: string; hmac: string }, opts: { send?: boolean } = {}) => {
    const file = path.join(home, `pkt-${randomBytes(4).toString('hex')}`);
    const r = await lab.exec(from.ns, 'env', [`HOME=${home}`, 'fwknop', '-A', 'tcp/22', '-a', from.v4, '-D', lab.server.v4, '--key-base64-rijndael', k.key, '--key-base64-hmac', k.hmac, '--use-hmac', '--save-packet', file, '--no-save-args', ...(opts.send === false ? ['-T'] : [])], { reject: false });
    expect(r.exitCode, `fwknop: ${r.stdout}\n${r.stderr}`).to.equal(0);
    return fs.readFileSync(file, 'utf8').trim();
  };
  /** Resend a captured packet byte for byte from a raw UDP socket in `from`. */
  const resend = async (from: Host, packet: string) => {
    const js = `const s=require('dgram').createSocket('udp4');s.send(Buffer.from(${JSON.stringify(packet)}),62201,'${lab.server.v4}',()=>s.close())`;
    await lab.exec(from.ns, process.execPath, ['-e', js]);
  };
  /** ms until tcp/22 answers, or -1 after `limit` ms */
  const opensWithin = async (c: Host, limit: number) => {
    const t0 = Date.now();
    while (Date.now() - t0 < limit) {
      if ((await reachable(lab, c, 4, ['tcp/22']))['tcp/22']) return Date.now() - t0;
      await sleep(150);
    }
    return -1;
  };
  const rules = async () => (await lab.exec(lab.server.ns, 'iptables-save', [])).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
  const audit = () => fs.readFileSync(path.join(lab.root, 'var/log/tm3/access.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { person: string | null; address: string; method: string; services: string[]; seconds: number });

  before(async function () {
    requireLab(this, ['knockd', 'fwknopd', 'fwknop']);
    lab = await Lab.create(5);
    [alice, bob, thief, stranger, carol] = lab.clients;
    await lab.startResponder();
    lab.writeConfig(`grant_seconds = ${GRANT}\nservices = ssh\n`);
    await ok(['restart']);
  });
  after(async () => {
    if (process.env.TM3_SHOW_FWKNOPD && lab) console.log(fs.readFileSync(path.join(lab.root, 'var/log/tm3/fwknopd.log'), 'utf8').slice(-6000), fs.readFileSync(path.join(lab.root, 'var/log/tm3/access.jsonl'), 'utf8'));
    await lab?.destroy();
    fs.rmSync(home, { recursive: true, force: true });
  });

  let baseline: string;
  it('user add: a stanza each, fwknopd running on the lab interface without a rule of its own, cards mode 600', async () => {
    baseline = await rules();
    await ok(['user', 'add', 'alice', '--services', 'ssh']);
    const long = await lab.tm3(['user', 'add', 'bob', '--services', 'ssh', '--grant', '2m']);
    expect(long.exitCode, 'a grant longer than [knock] grant_seconds').to.equal(2);
    await ok(['user', 'add', 'bob', '--services', 'ssh', '--grant', '50']);
    const access = fs.readFileSync(path.join(lab.root, 'etc/fwknop/access.conf'), 'utf8');
    expect(access.match(/^SOURCE\s+ANY$/gm)).to.have.length(2);
    const pid = Number(fs.readFileSync(path.join(lab.root, 'run/tm3/fwknopd.pid'), 'utf8'));
    expect(() => process.kill(pid, 0), 'fwknopd runs').not.to.throw();
    for (const n of ['alice', 'bob']) expect(fs.statSync(path.join(lab.root, `root/tm3-users/${n}.FAQ`)).mode & 0o777).to.equal(0o600);
    expect(fs.statSync(path.join(lab.root, 'etc/tm3/users/alice.conf')).mode & 0o777).to.equal(0o600);
    expect(keysOf('alice').key).not.to.equal(keysOf('bob').key);
    // an expired or invalid date is refused and changes nothing
    for (const args of [['eve', '--expires', '2001-01-01'], ['eve', '--services', 'sip'], ['Eve'], ['eve', '--permanent', 'maybe'], ['alice']]) {
      const bad = await lab.tm3(['user', 'add', ...args]);
      expect(bad.exitCode, args.join(' ')).to.equal(2);
      expect(bad.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
    }
    expect(fs.existsSync(path.join(lab.root, 'etc/tm3/users/eve.conf'))).to.equal(false);
  });

  it("a valid SPA packet opens the door for that person's services only; fwknopd added no rule", async () => {
    await spa(alice, keysOf('alice'));
    expect(await opensWithin(alice, 5000), 'ms from SPA to access').to.be.at.least(0);
    await Promise.all([
      expectOnly(lab, alice, 4, ['tcp/22']),
      expectOnly(lab, bob, 4, []),
    ]);
    expect(await rules(), 'iptables after fwknopd started and opened: tm3 rules only').to.equal(baseline);
    expect((await lab.exec(lab.server.ns, 'iptables-save', [])).stdout).not.to.match(/FWKNOP/);
    const last = audit().pop()!;
    expect(last).to.deep.include({ person: 'alice', address: alice.v4, method: 'spa', seconds: GRANT });
    expect(last.services).to.deep.equal(['ssh']);
  });

  it('the same packet captured and resent opens nothing: from another address, and from the same one', async () => {
    const packet = await spa(bob, keysOf('bob'));
    expect(await opensWithin(bob, 5000)).to.be.at.least(0);
    // the two replays side by side: each waits out its own 2.5 s of silence
    await Promise.all([
      (async () => {
        await resend(thief, packet);
        expect(await opensWithin(thief, 2500), 'the replay from another address').to.equal(-1);
      })(),
      (async () => {
        await ok(['knock', 'revoke', bob.v4]);
        await expectOnly(lab, bob, 4, []);
        await resend(bob, packet);
        expect(await opensWithin(bob, 2500), 'the replay from the same address').to.equal(-1);
      })(),
    ]);
  });

  it('a fresh packet stolen before it arrives and sent from another address opens nothing (tm3 checks $PKT_SRC)', async () => {
    await ok(['knock', 'revoke', alice.v4]);
    const packet = await spa(alice, keysOf('alice'), { send: false });
    await resend(thief, packet);
    // nor for the address it names: a packet that did not come from there proves nothing.
    // Both watched through the same 2.5 s, then every port of both
    const [fromThief, forAlice] = await Promise.all([opensWithin(thief, 2500), opensWithin(alice, 2500)]);
    expect(fromThief).to.equal(-1);
    expect(forAlice, 'the address the packet names').to.equal(-1);
    await Promise.all([expectOnly(lab, thief, 4, []), expectOnly(lab, alice, 4, [])]);
  });

  it('a wrong key opens nothing', async () => {
    await spa(stranger, { key: randomBytes(32).toString('base64'), hmac: randomBytes(64).toString('base64') });
    await spa(stranger, { key: keysOf('alice').key, hmac: randomBytes(64).toString('base64') });
    expect(await opensWithin(stranger, 2500)).to.equal(-1);
  });

  it("revoke ends the person's grants and permanent entries at once, their valid packet opens nothing more, and the other person keeps access", async () => {
    await ok(['user', 'add', 'dave', '--services', 'ssh', '--permanent', 'yes']);
    const daveKeys = keysOf('dave');
    await spa(stranger, daveKeys);
    expect(await opensWithin(stranger, 5000)).to.be.at.least(0);
    await spa(bob, keysOf('bob'));
    expect(await opensWithin(bob, 5000)).to.be.at.least(0);
    expect(audit().pop(), "bob's --grant").to.deep.include({ person: 'bob', seconds: 50 });
    const list = JSON.parse((await ok(['user', 'list', '--json'])).stdout) as { name: string; entries: { name: string; target: string }[]; lastAccess: { from: string; method: string } | null }[];
    const dave = list.find((p) => p.name === 'dave')!;
    expect(dave.entries, JSON.stringify(list)).to.have.length(1);
    expect(dave.entries[0].name).to.match(/^dave-\d{8}-\d{6}$/);
    expect(dave.entries[0].target).to.equal(`${stranger.v4}/32`);
    expect(dave.lastAccess).to.deep.include({ from: stranger.v4, method: 'spa' });
    // status, why and knock status say whose each grant is
    const st = JSON.parse((await ok(['status', '--json'])).stdout) as { grants: { address: string; people?: string[] }[] };
    expect(st.grants.find((g) => g.address === bob.v4)?.people).to.deep.equal(['bob']);
    expect((JSON.parse((await ok(['why', stranger.v4, '--json'])).stdout) as { grant: { people?: string[] } }).grant.people).to.deep.equal(['dave']);
    expect((await ok(['knock', 'status'])).stdout).to.match(new RegExp(`${bob.v4.replace(/\./g, '\\.')}\\s+\\d+s left\\s+\\(bob\\)`));
    const dry = await ok(['user', 'revoke', 'dave', '--dry-run']);
    expect(dry.stdout).to.include(stranger.v4).and.include(dave.entries[0].name);
    expect((JSON.parse((await ok(['list', '--json'])).stdout) as { name: string; person?: string }[]).find((e) => e.name === dave.entries[0].name)?.person).to.equal('dave');
    await expectOnly(lab, stranger, 4, ['tcp/22']);
    // an SSH-like session each (ssh is tcp/22 and tcp/9022; the sink listens on 9022): dave's must stop, bob's go on
    const sink = await lab.startSink([9022], []);
    const flows = [await lab.flow(stranger, 4, 'tcp', 9022), await lab.flow(bob, 4, 'tcp', 9022)];
    let ended = 0;
    try {
      for (let i = 0; i < 50 && (sink.from(stranger.v4).length < 2 || sink.from(bob.v4).length < 2); i++) await sleep(100);
      expect(sink.from(stranger.v4).length, "dave's session flows before the revoke").to.be.at.least(2);
      // the session is to an SSH port, so the lockout guard sees an admin: the admin says --force
      await ok(['user', 'revoke', 'dave', '--force']);
      ended = Date.now();
      await sleep(2500);
    } finally {
      await Promise.all(flows.map((f) => f.stop()));
    }
    expect(sink.from(stranger.v4).filter((x) => x.t > ended + 1000), "dave's established session after the revoke").to.deep.equal([]);
    expect(sink.from(bob.v4).filter((x) => x.t > ended + 1000).length, "bob's session goes on").to.be.greaterThan(5);
    await Promise.all([
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, bob, 4, ['tcp/22']),
    ]);
    expect(fs.existsSync(path.join(lab.root, 'root/tm3-users/dave.FAQ'))).to.equal(false);
    expect(fs.readFileSync(path.join(lab.root, 'etc/fwknop/access.conf'), 'utf8')).not.to.include(daveKeys.key);
    await spa(stranger, daveKeys);
    await Promise.all([
      (async () => expect(await opensWithin(stranger, 2500), "the revoked person's fresh, valid packet").to.equal(-1))(),
      expectOnly(lab, bob, 4, ['tcp/22']),
    ]);
  });

  it('rotate: the old keys open nothing, the new card works (and a key still works after someone else was revoked)', async () => {
    const old = keysOf('alice');
    await ok(['user', 'rotate', 'alice']);
    const now = keysOf('alice');
    expect(now.key).not.to.equal(old.key);
    await spa(thief, old);
    expect(await opensWithin(thief, 2500)).to.equal(-1);
    await spa(thief, now);
    expect(await opensWithin(thief, 5000)).to.be.at.least(0);
  });

  it('expiry: the refresh timer revokes a person past --expires, grant included', async () => {
    const until = new Date(Date.now() + 8000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await ok(['user', 'add', 'carol', '--services', 'ssh', '--expires', until]);
    const keys = keysOf('carol');
    await spa(carol, keys);
    expect(await opensWithin(carol, 5000)).to.be.at.least(0);
    while (Date.now() < Date.parse(until) + 500) await sleep(250);
    const r = await ok(['refresh']);
    expect(r.stdout).to.include('person carol expired and was revoked');
    await expectOnly(lab, carol, 4, []);
    const names = (JSON.parse((await ok(['user', 'list', '--json'])).stdout) as { name: string }[]).map((p) => p.name);
    expect(names).to.deep.equal(['alice', 'bob']);
    await spa(carol, keys);
    expect(await opensWithin(carol, 2500)).to.equal(-1);
    await expectOnly(lab, bob, 4, ['tcp/22']);
  });
  it('two people behind one address: revoking one keeps the grant the other holds there', async () => {
    await ok(['knock', 'revoke', thief.v4]).catch(() => undefined);
    await spa(thief, keysOf('bob'));
    expect(await opensWithin(thief, 5000)).to.be.at.least(0);
    await spa(thief, keysOf('alice'));
    for (let i = 0; i < 30 && !audit().some((o) => o.person === 'alice' && o.address === thief.v4 && Date.now() - Date.parse((o as unknown as { at: string }).at) < 10_000); i++) await sleep(200);
    const r = await ok(['user', 'revoke', 'bob']);
    expect(r.stdout).to.include(`kept the grant of ${thief.v4}`);
    await expectOnly(lab, thief, 4, ['tcp/22']);
    await ok(['user', 'revoke', 'alice']);
    await expectOnly(lab, thief, 4, []);
  });
  it('the audit log: a site knock is logged too (person null), every line mode-600 JSON', async () => {
    await ok(['knock', 'grant', stranger.v4]);
    expect(audit().pop()).to.deep.include({ person: null, address: stranger.v4, method: 'knock', seconds: GRANT });
    expect(fs.statSync(path.join(lab.root, 'var/log/tm3/access.jsonl')).mode & 0o777).to.equal(0o600);
    expect(fs.readFileSync(path.join(lab.root, 'etc/logrotate.d/tm3'), 'utf8')).to.include('/var/log/tm3/access.jsonl');
  });
  it("an fwknop set up by hand is the admin's: restart leaves it alone, user add refuses and leaves no person behind", async () => {
    const file = path.join(lab.root, 'etc/fwknop/access.conf');
    const mine = `SOURCE 198.51.100.0/24\nKEY_BASE64 ${randomBytes(32).toString('base64')}\nHMAC_KEY_BASE64 ${randomBytes(64).toString('base64')}\nOPEN_PORTS tcp/22\n`;
    fs.writeFileSync(file, mine, { mode: 0o600 });
    await ok(['restart']);
    expect(fs.readFileSync(file, 'utf8')).to.equal(mine);
    const r = await lab.tm3(['user', 'add', 'zed', '--services', 'ssh']);
    expect(r.exitCode, r.stderr).to.equal(2);
    expect(r.stderr).to.include('is not tm3');
    expect(fs.existsSync(path.join(lab.root, 'etc/tm3/users/zed.conf'))).to.equal(false);
    expect(fs.existsSync(path.join(lab.root, 'root/tm3-users/zed.FAQ'))).to.equal(false);
    expect(fs.readFileSync(file, 'utf8')).to.equal(mine);
  });
});
