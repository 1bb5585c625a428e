import { PassThrough } from 'node:stream';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseKeyed, sayAddress, sayDuration, cleanCallerId } from '../../src/callin/digits.js';
import { hashPin, parsePinRecord, verifyPin, validatePin, personBinding } from '../../src/callin/pin.js';
import { parseCallin } from '../../src/callin/config.js';
import { dialplanText, dialplanEnabled, withInclude, detectFlavour, dialplanPaths, unitTexts } from '../../src/callin/dialplan.js';
import { openAgi, type Channel } from '../../src/callin/agi.js';
import { runCall, type Deps } from '../../src/callin/flow.js';
import { limited, addFailure, emptyFailures } from '../../src/callin/limits.js';
import { parseProcNetTcp, peerUid, uidOf } from '../../src/callin/peer.js';
import { InputError } from '../../src/model/errors.js';
import { Paths } from '../../src/store/paths.js';
import { writePin, removePin, pinStillOpens } from '../../src/callin/pin-store.js';
import { listenerUid } from '../../src/callin/enable.js';

describe('call-in (issue 19): the pure parts', () => {
  describe('a keyed address: IPv4 with * for dots, # to end', () => {
    const cases: [string, string | RegExp][] = [
      ['192*0*2*10#', '192.0.2.10'],
      ['203*0*113*7', '203.0.113.7'],
      ['198*51*100*255#', '198.51.100.255'],
      ['127*0*0*1#', /loopback/],
      ['0*0*0*0#', /unspecified/],
      ['999*1*1*1#', /over 255/],
      ['255*255*255*255#', /broadcast/],
      ['224*0*0*1#', /multicast/],
      ['169*254*1*1#', /linkLocal/],
      ['192*0*2#', /four numbers/],
      ['192*0*2*1*5#', /four numbers/],
      ['192**2*1#', /four numbers/],
      ['192*0*02*1#', /leading zero/],
      ['', /four numbers/],
      ['1#2*3*4*5', /four numbers/],
    ];
    for (const [keyed, want] of cases) {
      it(`${keyed || '(nothing)'} -> ${want}`, () => {
        const r = parseKeyed(keyed);
        if (typeof want === 'string') expect(r).to.deep.equal({ ok: true, address: want });
        else { expect(r.ok).to.equal(false); expect((r as { why: string }).why).to.match(want); }
      });
    }
    it('is read back digit by digit, a dot for each dot', () => {
      expect(sayAddress('192.0.2.10')).to.deep.equal(['digits/1', 'digits/9', 'digits/2', 'letters/dot', 'digits/0', 'letters/dot', 'digits/2', 'letters/dot', 'digits/1', 'digits/0']);
    });
    it('durations in the words the core sounds have', () => {
      expect(sayDuration(3600)).to.deep.equal(['digits/60', 'minutes']);
      expect(sayDuration(7200)).to.deep.equal(['digits/2', 'hours']);
      expect(sayDuration(45 * 60)).to.deep.equal(['digits/40', 'digits/5', 'minutes']);
      expect(sayDuration(30)).to.deep.equal(['digits/1', 'minute']);
      expect(sayDuration(150 * 60)).to.deep.equal(['digits/1', 'digits/5', 'digits/0', 'minutes']);
    });
    it('a caller ID goes into a log line only as one plain word', () => {
      expect(cleanCallerId('+4930123')).to.equal('+4930123');
      expect(cleanCallerId('alice')).to.equal('alice');
      expect(cleanCallerId('x) from 203.0.113.9 (caller y')).to.equal('unknown');
      expect(cleanCallerId('a\nb')).to.equal('unknown');
    });
  });

  describe('PINs: a salted scrypt hash bound to the person', () => {
    const alice = { name: 'alice', added: '2026-11-26T10:00:00Z', key: Buffer.alloc(32, 1).toString('base64') };
    const rec = hashPin('48151623', personBinding(alice));
    it('verifies the right PIN only, and keeps no PIN text', () => {
      const r = parsePinRecord(rec)!;
      expect(rec).not.to.include('48151623');
      expect(verifyPin('48151623', r, personBinding(alice))).to.equal(true);
      expect(verifyPin('48151624', r, personBinding(alice))).to.equal(false);
      expect(verifyPin('', r, personBinding(alice))).to.equal(false);
    });
    it('two hashes of one PIN differ (salt)', () => expect(hashPin('48151623', personBinding(alice))).not.to.equal(rec));
    it('a re-added or re-keyed person does not inherit the PIN', () => {
      const r = parsePinRecord(rec)!;
      expect(verifyPin('48151623', r, personBinding({ ...alice, added: '2026-11-27T10:00:00Z' }))).to.equal(false);
      expect(verifyPin('48151623', r, personBinding({ ...alice, key: Buffer.alloc(32, 2).toString('base64') }))).to.equal(false);
    });
    it('a PIN changed, cleared or outlived by a rotate while the caller keys the address opens nothing at the grant', async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-pin-'));
      try {
        const paths = new Paths(root);
        const person = { ...alice, services: ['all'], permanent: false, hmacKey: Buffer.alloc(64, 1).toString('base64') };
        await writePin(paths, 'alice', hashPin('48151623', personBinding(person)));
        expect(pinStillOpens(paths, person, '48151623')).to.equal(true);
        expect(pinStillOpens(paths, undefined, '48151623'), 'revoked').to.equal(false);
        expect(pinStillOpens(paths, { ...person, key: Buffer.alloc(32, 2).toString('base64') }, '48151623'), 'rotated').to.equal(false);
        await writePin(paths, 'alice', hashPin('27182818', personBinding(person)));
        expect(pinStillOpens(paths, person, '48151623'), 'changed').to.equal(false);
        await removePin(paths, 'alice');
        expect(pinStillOpens(paths, person, '27182818'), 'cleared').to.equal(false);
      } finally { fs.rmSync(root, { recursive: true, force: true }); }
    });
    it('refuses planted records that would cost minutes or gigabytes', () => {
      expect(parsePinRecord(rec.replace('$16384$', '$1048576$'))).to.equal(undefined);
      expect(parsePinRecord(rec.replace('$16384$', '$10000$'))).to.equal(undefined);
      expect(parsePinRecord('garbage')).to.equal(undefined);
    });
    for (const bad of ['12345', '1234567890123', '12a456', '111111', '123456', '987654', ' ']) {
      it(`refuses the PIN '${bad}'`, () => expect(() => validatePin(bad)).to.throw(InputError));
    }
    it('takes 6-12 digits without a pattern', () => expect(validatePin(' 48151623 ')).to.equal('48151623'));
  });

  describe('[callin] values that go into dialplan text', () => {
    for (const [key, bad] of [['extension', '86,1,System(id)'], ['extension', '86\n[evil]'], ['extension', ''], ['extension', '_.'], ['extension', '_..'], ['context', 'a;b'], ['context', 'x]\n[y'], ['port', '4573'], ['port', '0'], ['agi_user', 'a b'], ['dialplan', 'freepbx'], ['max_wrong_pins_per_hour', '0']]) {
      it(`refuses ${key} = ${JSON.stringify(bad)}`, () => expect(() => parseCallin({ [key]: bad })).to.throw(InputError));
    }
    it('takes an extension, a feature code, a DID and a pattern', () => {
      for (const e of ['8686', '*86', '+493012345678', '_86XX']) expect(parseCallin({ extension: e }).extension).to.equal(e);
    });
  });

  describe('the dialplan include', () => {
    const c = parseCallin({ extension: '*86', context: 'tm3-callin', port: '457' });
    it('enabled: the extension runs tm3 over FastAGI on loopback', () => {
      const t = dialplanText(c, true);
      expect(t).to.include('[tm3-callin]\nexten => *86,1,NoOp(tm3 call-in)\n same => n,Answer()\n');
      expect(t).to.include(' same => n,AGI(agi://127.0.0.1:457/tm3-callin)\n');
      expect(dialplanEnabled(t)).to.equal(true);
    });
    it('disabled: the context stays, with no extension', () => {
      const t = dialplanText(c, false);
      expect(t).to.match(/^\[tm3-callin\]$/m);
      expect(t).not.to.match(/^exten/m);
      expect(dialplanEnabled(t)).to.equal(false);
    });
    it('the renderer itself refuses an unchecked value', () => {
      expect(() => dialplanText({ ...c, extension: '1,1,System(x)' }, true)).to.throw(/refusing to render/);
      expect(() => dialplanText({ ...c, context: 'a]\n[b' }, true)).to.throw(/refusing to render/);
    });
    it('the #include is added once', () => {
      const once = withInclude('[general]\n')!;
      expect(once).to.match(/^#include extensions_tm3\.conf$/m);
      expect(withInclude(once)).to.equal(undefined);
      expect(withInclude('#tryinclude "extensions_tm3.conf"\n')).to.equal(undefined);
    });
    it('where each PBX reads it', () => {
      const has = (...p: string[]) => (x: string) => p.includes(x);
      expect(detectFlavour('auto', has('/etc/asterisk/extensions_extra.d'))).to.equal('wazo');
      expect(detectFlavour('auto', has('/etc/asterisk/extensions_custom.conf'))).to.equal('incredible');
      expect(detectFlavour('auto', has())).to.equal('asterisk');
      expect(dialplanPaths('wazo')).to.deep.equal({ file: '/etc/asterisk/extensions_extra.d/tm3.conf' });
      expect(dialplanPaths('incredible').includer).to.equal('/etc/asterisk/extensions_custom.conf');
    });
    it('the socket unit listens on loopback only and hands each connection to tm3 callin agi', () => {
      const u = unitTexts(c, '/usr/bin/node /usr/local/lib/tm3/dist/cli/main.js');
      expect(u.socket).to.match(/^ListenStream=127\.0\.0\.1:457$/m);
      expect(u.socket).to.match(/^Accept=yes$/m);
      expect(u.service).to.match(/^ExecStart=\/usr\/bin\/node \/usr\/local\/lib\/tm3\/dist\/cli\/main\.js callin agi$/m);
      expect(u.service).to.match(/^StandardInput=socket$/m);
    });
  });

  describe('limits and the FastAGI peer', () => {
    it('a caller ID with 3 wrong PINs in the hour is refused; the box-wide cap stops rotating caller IDs', () => {
      let f = emptyFailures();
      const t = 1_700_000_000_000;
      for (let i = 0; i < 3; i++) f = addFailure(f, 'bob', t + i);
      expect(limited(f, 'bob', t + 10, 30)).to.match(/caller bob/);
      expect(limited(f, 'carol', t + 10, 30)).to.equal(undefined);
      expect(limited(f, 'bob', t + 3_600_001, 30)).to.equal(undefined);
      for (let i = 0; i < 30; i++) f = addFailure(f, `x${i}`, t + 100 + i);
      expect(limited(f, 'carol', t + 200, 30)).to.match(/max_wrong_pins_per_hour/);
    });
    it('a caller ID that names a property of every object (constructor, __proto__) is counted like any other', () => {
      for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        let f = emptyFailures();
        const t = 1_700_000_000_000;
        expect(limited(f, id, t, 30), id).to.equal(undefined);
        for (let i = 0; i < 3; i++) f = addFailure(f, id, t + i);
        expect(limited(JSON.parse(JSON.stringify(f)), id, t + 10, 30), id).to.match(/keyed 3 wrong PINs/);
        expect(limited(f, id, t + 10, 30), id).to.match(/keyed 3 wrong PINs/);
        expect(f.all.length).to.equal(3);
      }
    });
    it('a local user who took the FastAGI port first is named, not taken for tm3-callin.socket', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-tcp-'));
      const head = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
      const row = (local: string, uid: number) => `   0: ${local} 00000000:0000 0A 00000000:00000000 00:00000000 00000000 ${uid} 0 100 1 0 100 0 0 10 0\n`;
      const at = (text: string) => { fs.writeFileSync(path.join(dir, 'tcp'), head + text); return listenerUid(4573, path.join(dir, 'tcp')); };
      try {
        expect(at(row('0100007F:11DD', 0))).to.equal(0);
        expect(at(row('0100007F:11DD', 65534))).to.equal(65534);
        expect(at(row('00000000:11DD', 1000)), 'every address catches loopback too').to.equal(1000);
        expect(at(row('0100007F:11DE', 1000))).to.equal(undefined);
      } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    });
    it('finds the uid at the other end of a loopback connection', () => {
      const text = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:11DD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0
   1: 0100007F:11DD 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 200 1 0 20 4 30 10 -1
   2: 0100007F:9C40 0100007F:11DD 01 00000000:00000000 00:00000000 00000000   106        0 300 1 0 20 4 30 10 -1`;
      const rows = parseProcNetTcp(text);
      expect(peerUid(rows, '200')).to.equal(106);
      expect(peerUid(rows, '999')).to.equal(undefined);
      expect(uidOf('root:x:0:0::/root:/bin/sh\nasterisk:x:106:112::/var/lib/asterisk:/usr/sbin/nologin\n', 'asterisk')).to.equal(106);
    });
  });

  describe('the call flow over AGI (a scripted Asterisk)', () => {
    /** A channel that answers each command from a script of keypresses; logs what was played. */
    function scripted(keys: Record<string, string[]>, hangAfter?: number) {
      const played: string[] = [];
      let n = 0;
      const ch: Channel = {
        env: {},
        async command(line: string) {
          n++;
          if (hangAfter !== undefined && n > hangAfter) { const { Hangup } = await import('../../src/callin/agi.js'); throw new Hangup(); }
          played.push(line);
          const [, cmd, file] = /^(GET DATA|STREAM FILE|WAIT FOR DIGIT|ANSWER)\s*(\S*)/.exec(line) ?? [];
          if (cmd === 'GET DATA') return { result: keys[file]?.shift() ?? '', data: 'timeout' };
          if (cmd === 'WAIT FOR DIGIT') return { result: String((keys.wait?.shift() ?? '\0').charCodeAt(0)) };
          if (cmd === 'STREAM FILE' && keys[`play:${file}`]?.length) return { result: String(keys[`play:${file}`].shift()!.charCodeAt(0)) };
          return { result: '0' };
        },
      };
      return { ch, played };
    }
    const deps = (over: Partial<Deps<{ name: string }>> = {}) => {
      const log: string[] = [];
      const d: Deps<{ name: string }> = {
        limited: async () => undefined,
        personByPin: async (pin) => (pin === '48151623' ? { name: 'alice' } : undefined),
        wrongPin: async (n) => { log.push(`wrong ${n}`); },
        refusal: async (a) => (a === '203.0.113.1' ? 'is the server' : undefined),
        grant: async (p, a) => { log.push(`grant ${p.name} ${a}`); return { seconds: 3600 }; },
        server: '192.0.2.1',
        ...over,
      };
      return { d, log };
    };
    it('right PIN, address, 1: one grant, then the server address and the duration read back', async () => {
      const { ch, played } = scripted({ 'agent-pass': ['48151623'], 'vm-enter-num-to-call': ['198*51*100*7'], wait: ['1'] });
      const { d, log } = deps();
      const r = await runCall(ch, d);
      expect(r).to.include({ outcome: 'granted', person: 'alice', address: '198.51.100.7' });
      expect(log).to.deep.equal(['grant alice 198.51.100.7']);
      expect(played.join('\n')).to.include('STREAM FILE letters/dot "12"');
      expect(played.filter((l) => l.startsWith('STREAM FILE digits/') && l.endsWith('""')).map((l) => l.split(' ')[2])).to.deep.equal(['digits/60', 'digits/1', 'digits/9', 'digits/2', 'digits/0', 'digits/2', 'digits/1']);
    });
    it('2 re-enters; a refused and a malformed address are spoken errors, never grants', async () => {
      const { ch } = scripted({ 'agent-pass': ['48151623'], 'vm-enter-num-to-call': ['127*0*0*1', '203*0*113*1', '999*1*1*1', '198*51*100*7', '198*51*100*8'], wait: ['2', '1'] });
      const { d, log } = deps();
      const r = await runCall(ch, d);
      expect(r).to.include({ outcome: 'granted', address: '198.51.100.8' });
      expect(log).to.deep.equal(['grant alice 198.51.100.8']);
    });
    it('a key pressed over a spoken error is not lost: it starts the next answer', async () => {
      const { ch, played } = scripted({ 'agent-pass': ['48151623'], 'vm-enter-num-to-call': ['127*0*0*1'], 'play:im-sorry': ['1'], 'silence/1': ['98*51*100*7'], wait: ['1'] });
      const { d, log } = deps();
      const r = await runCall(ch, d);
      expect(r).to.include({ outcome: 'granted', address: '198.51.100.7' });
      expect(log).to.deep.equal(['grant alice 198.51.100.7']);
      expect(played).to.include('GET DATA silence/1 10000 15');
    });
    it('three wrong PINs: each counted, no address asked, no grant', async () => {
      const { ch, played } = scripted({ 'agent-pass': ['1', '2', '3', '48151623'] });
      const { d, log } = deps();
      const r = await runCall(ch, d);
      expect(r.outcome).to.equal('wrong-pin');
      expect(log).to.deep.equal(['wrong 1', 'wrong 2', 'wrong 3']);
      expect(played.some((l) => l.includes('vm-enter-num-to-call'))).to.equal(false);
    });
    it('a rate-limited caller is not even asked for a PIN', async () => {
      const { ch, played } = scripted({ 'agent-pass': ['48151623'] });
      const r = await runCall(ch, deps({ limited: async () => 'caller bob keyed 3 wrong PINs' }).d);
      expect(r.outcome).to.equal('rate-limited');
      expect(played.some((l) => l.startsWith('GET DATA'))).to.equal(false);
    });
    for (let at = 1; at <= 24; at++) {
      it(`a hang-up after AGI command ${at} leaves no grant, or a whole one`, async () => {
        const { ch } = scripted({ 'agent-pass': ['48151623'], 'vm-enter-num-to-call': ['198*51*100*7'], wait: ['1'] }, at);
        const { d, log } = deps();
        const r = await runCall(ch, d);
        if (r.outcome === 'granted') expect(log).to.deep.equal(['grant alice 198.51.100.7']);
        else { expect(r.outcome).to.equal('hangup'); expect(log).to.deep.equal([]); }
      });
    }
    it('parses what Asterisk sends: the agi_ lines, 200 results, HANGUP and the end of the stream', async () => {
      const input = new PassThrough();
      const output = new PassThrough();
      input.write('agi_network: yes\nagi_callerid: bob\nagi_channel: PJSIP/bob-1\n\n');
      const ch = await openAgi(input, output);
      expect(ch.env.agi_callerid).to.equal('bob');
      const p = ch.command('GET DATA agent-pass 10000 12');
      input.write('200 result=4815 (timeout)\n');
      expect(await p).to.deep.equal({ result: '4815', data: 'timeout' });
      const q = ch.command('STREAM FILE x ""');
      input.write('HANGUP\n200 result=-1 endpos=0\n');
      await q.then(() => expect.fail('a hang-up must throw'), (e: Error) => expect(e.name).to.equal('Hangup'));
      const input2 = new PassThrough();
      input2.write('agi_callerid: x\n\n');
      const ch2 = await openAgi(input2, new PassThrough());
      const w = ch2.command('WAIT FOR DIGIT 1000');
      input2.end();
      await w.then(() => expect.fail('the end of the stream must throw'), (e: Error) => expect(e.name).to.equal('Hangup'));
    });
  });

  describe('tm3 callin enable in a staged root: where each PBX gets the include', () => {
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const tm3 = (root: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', main, '--root', root, ...args], { encoding: 'utf8', env: { ...process.env, TM3_NO_SYSLOG: '1' } });
    const roots: string[] = [];
    after(() => { for (const r of roots) fs.rmSync(r, { recursive: true, force: true }); });
    const stage = (files: Record<string, string>) => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-callin-'));
      roots.push(root);
      for (const [f, text] of Object.entries(files)) {
        if (f.endsWith('/')) { fs.mkdirSync(path.join(root, f), { recursive: true }); continue; }
        fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        fs.writeFileSync(path.join(root, f), text);
      }
      return root;
    };
    const read = (root: string, f: string) => fs.readFileSync(path.join(root, f), 'utf8');
    it('plain Asterisk: extensions_tm3.conf, #included once from extensions.conf', () => {
      const root = stage({ 'etc/asterisk/extensions.conf': '[default]\n' });
      const r = tm3(root, ['callin', 'enable']);
      expect(r.status, r.stderr).to.equal(0);
      expect(read(root, 'etc/asterisk/extensions_tm3.conf')).to.include('exten => 8686,1,');
      expect(read(root, 'etc/asterisk/extensions.conf')).to.match(/^\[default\]\n\n; tm3 call-in.*\n#include extensions_tm3\.conf\n$/);
      expect(read(root, 'etc/systemd/system/tm3-callin@.service')).to.include(' callin agi');
    });
    it('Incredible PBX: the #include goes into extensions_custom.conf, extensions.conf is left alone', () => {
      const root = stage({ 'etc/asterisk/extensions.conf': '; FreePBX writes this\n', 'etc/asterisk/extensions_custom.conf': '[from-internal-custom]\n', 'etc/tm3/tm3.conf': '[callin]\nextension = *86\n' });
      const r = tm3(root, ['callin', 'enable']);
      expect(r.status, r.stderr).to.equal(0);
      expect(read(root, 'etc/asterisk/extensions_custom.conf')).to.match(/^#include extensions_tm3\.conf$/m);
      expect(read(root, 'etc/asterisk/extensions.conf')).to.equal('; FreePBX writes this\n');
      expect(read(root, 'etc/asterisk/extensions_tm3.conf')).to.include('exten => *86,1,');
    });
    it('Wazo: extensions_extra.d/tm3.conf, nothing to #include', () => {
      const root = stage({ 'etc/asterisk/extensions_extra.d/': '', 'etc/asterisk/extensions.conf': '; wazo-confgend\n' });
      const r = tm3(root, ['callin', 'enable']);
      expect(r.status, r.stderr).to.equal(0);
      expect(read(root, 'etc/asterisk/extensions_extra.d/tm3.conf')).to.include('AGI(agi://127.0.0.1:457/tm3-callin)');
      expect(read(root, 'etc/asterisk/extensions.conf')).to.equal('; wazo-confgend\n');
      const st = JSON.parse(tm3(root, ['callin', 'status', '--json']).stdout);
      expect(st).to.include({ enabled: true, flavour: 'wazo', file: '/etc/asterisk/extensions_extra.d/tm3.conf' });
    });
    it('no Asterisk: exit 2 with the fix; a hostile [callin] value: exit 2; neither writes a file', () => {
      const none = stage({ 'etc/tm3/tm3.conf': '' });
      const r = tm3(none, ['callin', 'enable']);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/extensions\.conf does not exist: is Asterisk installed here\?.*fix:/);
      expect(fs.existsSync(path.join(none, 'etc/asterisk/extensions_tm3.conf'))).to.equal(false);
      const evil = stage({ 'etc/asterisk/extensions.conf': '', 'etc/tm3/tm3.conf': '[callin]\nextension = 86,1,System(touch /tmp/x)\n' });
      const e = tm3(evil, ['callin', 'enable']);
      expect(e.status).to.equal(2);
      expect(e.stderr).to.match(/\[callin\] extension .* is not a dialable extension/);
      expect(fs.existsSync(path.join(evil, 'etc/asterisk/extensions_tm3.conf'))).to.equal(false);
    });
  });
});
