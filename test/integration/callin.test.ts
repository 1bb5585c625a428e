import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa, type ResultPromise } from 'execa';
import { Lab, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { REPO } from './helpers/guest.js';
import { Asterisk, ensureAsteriskRootfs } from './helpers/asterisk.js';
import { callIn, type Step } from './helpers/callin-call.js';
import { sayAddress } from '../../src/callin/digits.js';

// Issue 19: call in to open the door, against the lab's real Asterisk (Debian unstable's,
// chrooted in the server's namespace) and real Fail2Ban. sipp dials the call-in extension and
// keys DTMF as SIP INFO; Asterisk runs AGI(agi://127.0.0.1:457/tm3-callin), where a stand-in
// for the systemd socket unit (helpers/agi-listener.py, Accept=yes semantics) runs
// `tm3 callin agi` with the connection as stdin and stdout. Grants open [knock] services = ssh:
// tcp/22 answering (a RST: nothing listens) is the door open.

const EXT = '8686';
const PORT = 457;
const ALICE_PIN = '48151623';
const BOB_PIN = '27182818';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PHONES: Record<string, string> = { dial1: 'dial1-Secret-1', dial2: 'dial2-Secret-2', dial3: 'dial3-Secret-3', dial4: 'dial4-Secret-4', dial5: 'dial5-Secret-5', dial6: 'dial6-Secret-6' };

describe('call in to open the door: real Asterisk, sipp keying DTMF, real Fail2Ban (lab)', function () {
  this.timeout(900_000);
  let lab: Lab;
  let ast: Asterisk;
  let listener: ResultPromise | undefined;
  let listenerErr = '';
  let phone: Host, hotel: Host, attacker: Host, cafe: Host, other: Host;
  const ok = async (args: string[], input?: string) => {
    const r = await lab.tm3(args, input !== undefined ? { input } : {});
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const auditFile = () => path.join(lab.root, 'var/log/tm3/access.jsonl');
  const audit = (): Record<string, unknown>[] => (fs.existsSync(auditFile()) ? fs.readFileSync(auditFile(), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []);
  const calls = () => audit().filter((a) => a.event === 'call');
  /** The record of the call just made: tm3 writes it once its dialog has seen the hang-up. */
  const lastCall = async (before: number) => {
    for (const t0 = Date.now(); calls().length <= before && Date.now() - t0 < 10_000;) await sleep(200);
    return calls()[before];
  };
  const grants = async () => JSON.parse((await ok(['knock', 'status', '--json'])).stdout).grants as { address: string; people?: string[] }[];
  const bans = async (): Promise<string[]> => JSON.parse((await ok(['status', '--json'])).stdout).bans;
  const owners = () => (fs.existsSync(path.join(lab.root, 'var/lib/tm3/grant-people')) ? fs.readdirSync(path.join(lab.root, 'var/lib/tm3/grant-people')) : []);
  /** The sound files the dialog had Asterisk play, in order, from res_agi's debug lines. */
  const spoken = () => {
    const f = path.join(lab.root, 'var/log/asterisk/agi-verbose');
    return fs.existsSync(f) ? [...fs.readFileSync(f, 'utf8').matchAll(/AGI Rx << (?:STREAM FILE|GET DATA) (\S+)/g)].map((m) => m[1]) : [];
  };
  const diag = () => `\n--- tm3 callin agi stderr:\n${listenerErr.slice(-2500)}\n--- Asterisk:\n${ast.tail(30)}\n--- calls:\n${JSON.stringify(calls().slice(-3))}`;

  /** tcp/22 from `c`: the epoch second it first answers (polling every 50 ms), or 0 by the deadline. */
  const watchOpen = (c: Host, seconds: number) => execa('ip', ['netns', 'exec', c.ns, 'python3', '-c', `
import socket, time, sys
end = time.time() + ${seconds}
while time.time() < end:
    s = socket.socket(); s.settimeout(0.1)
    try:
        s.connect(('${lab.server.v4}', 22)); print(time.time()); sys.exit(0)
    except ConnectionRefusedError:
        print(time.time()); sys.exit(0)
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(0.05)
print(0)
`], { reject: false });

  before(async function () {
    requireLab(this, ['fail2ban-server', 'fail2ban-client', 'knockd', 'sipp', 'debootstrap']);
    const rootfs = await ensureAsteriskRootfs();
    lab = await Lab.create(5);
    [phone, hotel, attacker, cafe, other] = lab.clients;
    lab.writeConfig('services = ssh\ngrant_seconds = 300\n[spa]\nenabled = false\n[firewall]\nopen =\n[services]\nrtp = udp/10000:10100\n', { fail2ban: true });
    ast = new Asterisk(lab, rootfs);
    ast.writeConfig();
    // what call-in needs on top of the lab's Asterisk: AGI, the gsm core sounds, CHANNEL(); phones keying DTMF as SIP INFO
    const etc = ast.etc;
    fs.appendFileSync(path.join(etc, 'modules.conf'), ['res_speech', 'res_agi', 'format_gsm', 'codec_gsm', 'func_channel'].map((m) => `load = ${m}.so\n`).join(''));
    fs.appendFileSync(path.join(etc, 'pjsip.conf'), Object.entries(PHONES).map(([n, pw]) => `\n[${n}]\ntype = endpoint\ncontext = tm3-test\ndisallow = all\nallow = ulaw\nauth = ${n}\naors = ${n}\ndirect_media = no\nrtp_symmetric = yes\nforce_rport = yes\nrewrite_contact = yes\ndtmf_mode = info\n\n[${n}]\ntype = auth\nauth_type = userpass\nusername = ${n}\npassword = ${pw}\n\n[${n}]\ntype = aor\nmax_contacts = 2\n`).join(''));
    // what the dialog says, for the spoken-refusal checks: res_agi's debug lines, in a file of their own
    fs.appendFileSync(path.join(etc, 'logger.conf'), 'agi-verbose => verbose(5)\n');
    // the lab's phones land in [tm3-test]: the README's one line for a plain Asterisk
    fs.appendFileSync(path.join(etc, 'extensions.conf'), 'include => tm3-callin\n');
    await ok(['restart']);
    await ok(['callin', 'enable']);
    await ast.start();
    await ast.cli('agi set debug on');
    // the phone (an office desk phone) and the attacker's line may speak SIP; the attacker's is bannable
    await ok(['add-ip', 'desk', phone.v4, '--services', 'sip,rtp']);
    await ok(['add-ip', 'cafe-phone', attacker.v4, '--services', 'sip,rtp', '--ban', 'allow']);
    await ok(['add-ip', 'cafe2', cafe.v4, '--services', 'sip,rtp', '--ban', 'allow']);
    await ok(['add-ip', 'other-phone', other.v4, '--services', 'sip,rtp']);
    await ok(['user', 'add', 'alice', '--services', 'ssh']);
    await ok(['user', 'add', 'bob', '--services', 'ssh']);
    await ok(['user', 'pin', 'alice'], `${ALICE_PIN}\n`);
    await ok(['user', 'pin', 'bob'], `${BOB_PIN}\n`);
    listener = execa('ip', ['netns', 'exec', lab.server.ns, 'python3', path.join(REPO, 'test/integration/helpers/agi-listener.py'), String(PORT), process.execPath, path.join(REPO, 'dist/cli/main.js'), '--root', lab.root, 'callin', 'agi'],
      { reject: false, stdin: 'ignore', env: { TM3_NO_SYSLOG: '1', LC_ALL: 'C' }, buffer: false });
    listener.stderr?.on('data', (d: Buffer) => { listenerErr += d.toString(); });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the AGI listener did not start')), 10_000);
      listener!.stdout?.once('data', () => { clearTimeout(t); resolve(); });
    });
  });
  after(async () => {
    listener?.kill('SIGTERM');
    await ast?.stop();
    await lab?.destroy();
  });

  it('enable: the include, its #include line and the units; status says so; the dialplan Asterisk loaded has the extension', async () => {
    const inc = fs.readFileSync(path.join(lab.root, 'etc/asterisk/extensions_tm3.conf'), 'utf8');
    expect(inc).to.include(`exten => ${EXT},1,NoOp(tm3 call-in)`);
    expect(fs.readFileSync(path.join(lab.root, 'etc/asterisk/extensions.conf'), 'utf8').match(/^#include extensions_tm3\.conf$/gm)).to.have.length(1);
    expect(fs.readFileSync(path.join(lab.root, 'etc/systemd/system/tm3-callin.socket'), 'utf8')).to.match(/^ListenStream=127\.0\.0\.1:457$/m);
    await ok(['callin', 'enable']); // twice: the #include is not added again
    expect(fs.readFileSync(path.join(lab.root, 'etc/asterisk/extensions.conf'), 'utf8').match(/^#include extensions_tm3\.conf$/gm)).to.have.length(1);
    const s = JSON.parse((await ok(['callin', 'status', '--json'])).stdout);
    expect(s).to.include({ enabled: true, flavour: 'asterisk', extension: EXT, listening: true, included: true });
    expect(s.peopleWithPin).to.deep.equal(['alice', 'bob']);
    const plan = await ast.cli(`dialplan show ${EXT}@tm3-test`);
    expect(plan, 'Asterisk\'s dialplan').to.match(/AGI\(agi:\/\/127\.0\.0\.1:457\/tm3-callin\)/);
    // the PIN store keeps a hash only
    const rec = fs.readFileSync(path.join(lab.root, 'etc/tm3/pins/alice.pin'), 'utf8');
    expect(rec).to.match(/^scrypt\$/);
    expect(rec).not.to.include(ALICE_PIN);
    expect(fs.statSync(path.join(lab.root, 'etc/tm3/pins/alice.pin')).mode & 0o777).to.equal(0o600);
  });

  it('user pin on a real terminal: asked twice and never echoed; a mismatch, a short PIN or another person\'s PIN changes nothing', async () => {
    await ok(['user', 'add', 'carol', '--services', 'ssh']);
    const pty = (steps: [string, string][]) => execa('ip', ['netns', 'exec', lab.server.ns, 'python3', path.join(REPO, 'test/integration/helpers/pty-drive.py'), JSON.stringify(steps),
      process.execPath, path.join(REPO, 'dist/cli/tm3.js'), '--root', lab.root, 'user', 'pin', 'carol'], { reject: false, env: { TM3_NO_SYSLOG: '1' } });
    const file = path.join(lab.root, 'etc/tm3/pins/carol.pin');
    const bad = await pty([['PIN for carol', '31415926'], ['again', '31415927']]);
    expect(bad.exitCode, bad.stdout).to.equal(2);
    expect(bad.stdout).to.match(/the two PINs differ/);
    expect(fs.existsSync(file), 'a mismatch writes nothing').to.equal(false);
    const taken = await pty([['PIN for carol', ALICE_PIN], ['again', ALICE_PIN]]);
    expect(taken.exitCode, taken.stdout).to.equal(2);
    expect(taken.stdout).to.match(/another person has this PIN/);
    const short = await lab.tm3(['user', 'pin', 'carol'], { input: '4711\n' });
    expect(short.exitCode).to.equal(2);
    expect(fs.existsSync(file)).to.equal(false);
    const good = await pty([['PIN for carol', '31415926'], ['again', '31415926']]);
    expect(good.exitCode, good.stdout).to.equal(0);
    expect(good.stdout, 'the terminal never shows the PIN').not.to.include('31415926');
    expect(good.stdout).to.match(/again: /);
    expect(fs.readFileSync(file, 'utf8')).to.match(/^scrypt\$16384\$8\$1\$/);
    expect(JSON.parse((await ok(['callin', 'status', '--json'])).stdout).peopleWithPin).to.deep.equal(['alice', 'bob', 'carol']);
  });

  it('the tm3-callin filter on its annotated sample: fail2ban-regex finds exactly the annotated addresses', async () => {
    const sample = fs.readFileSync(path.join(REPO, 'test/fixtures/callin/callin.log'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    const want = sample.map((l) => / # ([0-9a-f.:]+)$/.exec(l)?.[1]).filter(Boolean).sort();
    const file = path.join(lab.root, 'callin-sample.log');
    fs.writeFileSync(file, `${sample.map((l) => l.replace(/ # .*$/, '')).join('\n')}\n`);
    const rx = await lab.exec(lab.server.ns, 'fail2ban-regex', ['-o', 'ip', file, path.join(lab.root, 'etc/fail2ban/filter.d/tm3-callin.conf')]);
    expect(String(rx.stdout).split('\n').map((x) => x.trim()).filter(Boolean).sort()).to.deep.equal(want);
  });

  it('a right PIN and address: the address reaches its services within 1 s of the confirming 1; the grant and the call are recorded with the person', async () => {
    expect((await watchOpen(hotel, 0.5)).stdout.trim(), 'the hotel before the call').to.equal('0');
    const mark = path.join(lab.root, 'confirm-time');
    const watcher = watchOpen(hotel, 90);
    const r = await callIn(lab, phone, 'dial1', PHONES.dial1, EXT, [
      { wait: 4500 }, { keys: `${ALICE_PIN}#` }, { wait: 2500 }, { keys: `${hotel.v4.replace(/\./g, '*')}#` }, { wait: 3000 }, { mark }, { keys: '1' }, { awaitBye: true },
    ]);
    const opened = Number((await watcher).stdout.trim());
    expect(r.exitCode, `sipp: ${r.errors}\n${r.out}${diag()}`).to.equal(0);
    const confirmed = Number(fs.readFileSync(mark, 'utf8'));
    console.log(`      the hotel reached tcp/22 ${((opened - confirmed) * 1000).toFixed(0)} ms after the caller pressed 1`);
    expect(opened, `the hotel was never let in${diag()}`).to.be.above(0);
    expect(opened - confirmed, 'seconds from the confirming 1 to the door open').to.be.within(0, 1);
    const g = (await grants()).find((x) => x.address === hotel.v4);
    expect(g?.people, 'the live grant names its person').to.deep.equal(['alice']);
    const opening = audit().find((a) => a.method === 'callin' && a.address === hotel.v4 && a.event === undefined);
    expect(opening, 'the opening in the audit log').to.include({ person: 'alice' });
    expect(calls().pop(), 'the call in the audit log').to.include({ outcome: 'granted', person: 'alice', address: hotel.v4, caller: 'dial1', from: phone.v4 });
    expect(listenerErr).to.include(`tm3 callin: granted alice ${hotel.v4}`);
  });

  it("a person with --permanent yes: the call also makes their permanent entry NAME-YYYYmmdd-HHMMSS; the caller hears the address digit by digit, the duration and the server's address", async () => {
    await ok(['user', 'add', 'dave', '--services', 'ssh', '--permanent', 'yes']);
    await ok(['user', 'pin', 'dave'], '57721566\n');
    const said = spoken().length;
    // this caller listens to the whole read-back before pressing 1
    const r = await callIn(lab, phone, 'dial6', PHONES.dial6, EXT, [
      { wait: 4500 }, { keys: '57721566#' }, { wait: 2500 }, { keys: `${hotel.v4.replace(/\./g, '*')}#` }, { wait: 12000 }, { keys: '1' }, { awaitBye: true },
    ]);
    expect(r.exitCode, `sipp: ${r.errors}\n${r.out}${diag()}`).to.equal(0);
    const entries = JSON.parse((await ok(['user', 'list', '--json'])).stdout).find((p: { name: string }) => p.name === 'dave').entries as { name: string; target: string }[];
    expect(entries.map((e) => e.target), `dave's entries${diag()}`).to.deep.equal([`${hotel.v4}/32`]);
    expect(entries[0].name).to.match(/^dave-\d{8}-\d{6}$/);
    expect(calls().pop()).to.include({ outcome: 'granted', person: 'dave', entry: entries[0].name });
    // what the caller heard: the address digit by digit, then the grant's duration and the server's address
    const heard = spoken().slice(said).join(' ');
    expect(heard).to.include(['you-entered', ...sayAddress(hotel.v4), 'if-correct-press', 'digits/1'].join(' '));
    expect(heard).to.include(['activated', 'for', 'digits/5', 'minutes', 'location', ...sayAddress(lab.server.v4), 'vm-goodbye'].join(' '));
  });

  it('refused and malformed addresses (127*0*0*1#, 0*0*0*0#, 999*1*1*1#, the server\'s own): a spoken refusal each (res_agi\'s own log of what it played), no grant', async () => {
    const before = (await grants()).length;
    const said = spoken().length;
    const keyed = ['127*0*0*1#', '0*0*0*0#', '999*1*1*1#', `${lab.server.v4.replace(/\./g, '*')}#`];
    const r = await callIn(lab, other, 'dial2', PHONES.dial2, EXT, [
      { wait: 4500 }, { keys: `${BOB_PIN}#` }, ...keyed.flatMap((k) => [{ wait: 3000 }, { keys: k }] as Step[]), { awaitBye: true },
    ]);
    expect(r.exitCode, `sipp: ${r.errors}\n${r.out}${diag()}`).to.equal(0);
    expect((await grants()).length, 'live grants').to.equal(before);
    const call = calls().pop()!;
    expect(call, `the call's record${diag()}`).to.include({ outcome: 'refused', person: 'bob' });
    console.log(`      the last refusal: ${String(call.detail)}`);
    expect(String(call.detail)).to.match(/address of this server/);
    // spoken: three "I'm sorry, invalid" for the malformed ones, "I'm sorry, invalid (pbx)" for the server's own
    const words = spoken().slice(said).filter((w) => /invalid/.test(w));
    const logdir = path.join(lab.root, 'var/log/asterisk');
    expect(words, `the refusals Asterisk played: ${spoken().slice(said).join(' ')} (${fs.readdirSync(logdir).join(' ')}: ${fs.existsSync(path.join(logdir, 'agi-verbose')) ? fs.readFileSync(path.join(logdir, 'agi-verbose'), 'utf8').slice(-800) : ''})`).to.deep.equal(['invalid', 'invalid', 'invalid', 'pbx-invalid']);
    // each was refused before any grant: tm3's log of the dialog has no grant of bob's
    expect(audit().some((a) => a.method === 'callin' && a.person === 'bob' && a.event === undefined)).to.equal(false);
  });

  it('a wrong PIN three times: no grant, the call ends, and real Fail2Ban bans the caller\'s signalling address', async () => {
    const before = (await grants()).length;
    const r = await callIn(lab, attacker, 'dial3', PHONES.dial3, EXT, [
      { wait: 4500 }, { keys: '111222#' }, { wait: 3500 }, { keys: '123123#' }, { wait: 3500 }, { keys: '909090#' }, { awaitBye: true },
    ]);
    expect(r.exitCode, `sipp: ${r.errors}\n${r.out}${diag()}`).to.equal(0);
    expect((await grants()).length).to.equal(before);
    expect(calls().pop()).to.include({ outcome: 'wrong-pin', caller: 'dial3', from: attacker.v4 });
    const lines = fs.readFileSync(path.join(lab.root, 'var/log/tm3/callin.log'), 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.includes(`from ${attacker.v4} (caller dial3)`))).to.have.length(3);
    let banned = false;
    for (const t0 = Date.now(); !banned && Date.now() - t0 < 5000; await sleep(250)) banned = (await bans()).includes(attacker.v4);
    expect(banned, `the caller banned\n${fs.readFileSync(path.join(lab.root, 'var/log/fail2ban.log'), 'utf8').split('\n').filter((l) => /callin|Ban/.test(l)).slice(-10).join('\n')}`).to.equal(true);
    // banned means every port: its next call does not even reach Asterisk
    const again = await lab.exec(attacker.ns, 'svmap', ['-t', '0.5', lab.server.v4], { reject: false });
    expect(`${again.stdout}`).not.to.match(/Asterisk/);
  });

  it('the same caller ID is rate-limited from another address: it is not even asked for a PIN', async () => {
    // Asterisk hangs up after one sentence; the phone only waits for its BYE
    const r = await callIn(lab, cafe, 'dial3', PHONES.dial3, EXT, [{ awaitBye: true }]);
    expect(r.exitCode, `sipp: ${r.errors}\n${r.out}${diag()}`).to.equal(0);
    expect(calls().pop()).to.include({ outcome: 'rate-limited', caller: 'dial3' });
  });

  it('a revoked person\'s PIN opens nothing', async () => {
    await ok(['user', 'revoke', 'bob', '--force']);
    const n = calls().length;
    const r = await callIn(lab, other, 'dial4', PHONES.dial4, EXT, [
      { wait: 4500 }, { keys: `${BOB_PIN}#` }, { wait: 3500 }, { keys: `${cafe.v4.replace(/\./g, '*')}#` }, { wait: 3000 }, { keys: '1' }, { wait: 2000 }, { hangup: true },
    ]);
    expect(r.exitCode, `sipp: ${r.errors}\n${r.out}${diag()}`).to.equal(0);
    const call = await lastCall(n);
    expect(call?.outcome, `the call${diag()}`).to.be.oneOf(['hangup', 'wrong-pin']);
    expect(call.person).to.equal(undefined);
    expect((await grants()).some((g) => g.address === cafe.v4)).to.equal(false);
    expect((await watchOpen(cafe, 1)).stdout.trim(), 'the address bob keyed').to.equal('0');
  });

  it('a caller hanging up mid-flow (address read back, not confirmed) leaves no grant, no holder record, and an audit line saying where', async () => {
    const holders = owners();
    const n = calls().length;
    const r = await callIn(lab, phone, 'dial5', PHONES.dial5, EXT, [
      { wait: 4500 }, { keys: `${ALICE_PIN}#` }, { wait: 2500 }, { keys: `${cafe.v4.replace(/\./g, '*')}#` }, { wait: 1500 }, { hangup: true },
    ]);
    expect(r.exitCode, `sipp: ${r.errors}\n${r.out}${diag()}`).to.equal(0);
    const call = await lastCall(n);
    expect(call, `the call${diag()}`).to.include({ outcome: 'hangup', person: 'alice' });
    expect(String(call.detail)).to.match(/hung up at confirm/);
    expect((await grants()).some((g) => g.address === cafe.v4)).to.equal(false);
    expect(owners()).to.deep.equal(holders);
    expect((await watchOpen(cafe, 1)).stdout.trim()).to.equal('0');
  });

  it('a local user who is neither Asterisk\'s nor root connects to the AGI port and forges a call: refused before a word', async () => {
    const forged = 'agi_callerid: 555\\n\\n200 result=1 (203.0.113.99:5060)\\n';
    const r = await lab.exec(lab.server.ns, 'setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '/usr/bin/python3', '-c',
      `import socket; s=socket.create_connection(('127.0.0.1', ${PORT})); s.sendall(b"${forged}"); s.settimeout(5)\ntry:\n  print(repr(s.recv(1000)))\nexcept Exception as e:\n  print(e)`], { reject: false });
    await sleep(500);
    // the connection is closed unread: an empty read, or a reset for the bytes it sent
    expect(String(r.stdout).trim(), `what the forger got back\n${r.stderr}`).to.match(/^b''$|Connection reset by peer/);
    expect(listenerErr).to.match(/refused: uid 65534 connected, not asterisk or root/);
    // nothing it said was taken: no call recorded for its caller ID, no ban line for its address
    expect(calls().some((c) => c.caller === '555')).to.equal(false);
    expect(fs.readFileSync(path.join(lab.root, 'var/log/tm3/callin.log'), 'utf8')).not.to.include('203.0.113.99');
  });

  it('disable: the context is emptied and a call to the extension opens nothing; --dry-run changes nothing', async () => {
    const file = path.join(lab.root, 'etc/asterisk/extensions_tm3.conf');
    const before = fs.readFileSync(file, 'utf8');
    const dry = await ok(['callin', 'disable', '--dry-run']);
    expect(dry.stdout).to.match(/would disable call-in/);
    expect(fs.readFileSync(file, 'utf8')).to.equal(before);
    await ok(['callin', 'disable']);
    await ast.cli('dialplan reload');
    expect(await ast.cli(`dialplan show ${EXT}@tm3-test`)).not.to.match(/AGI/);
    const s = JSON.parse((await ok(['callin', 'status', '--json'])).stdout);
    expect(s.enabled).to.equal(false);
  });
});
