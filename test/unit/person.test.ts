import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import fc from 'fast-check';
import { parsePerson, formatPerson, parseExpires, parseDuration, validatePersonName, expired, type Person } from '../../src/model/person.js';
import { buildCatalog } from '../../src/model/services.js';
import { InputError } from '../../src/model/errors.js';
import { readPeople, writePerson } from '../../src/store/people.js';
import { Paths } from '../../src/store/paths.js';
import { spaFiles, cardFile } from '../../src/plan/spa-files.js';
import { loadConfig } from '../../src/store/config.js';

const catalog = buildCatalog();
const KEY = Buffer.alloc(32, 7).toString('base64');
const HMAC = Buffer.alloc(64, 9).toString('base64');
const good = (extra = '') => `[person]\nservices=ssh,sip\nexpires=2027-03-31T23:59:59Z\npermanent=false\nkey=${KEY}\nhmac_key=${HMAC}\nadded=2026-11-26T10:00:00Z\n${extra}`;

function refused(text: string, name = 'alice'): string {
  try {
    parsePerson(name, text, catalog);
  } catch (err) {
    expect(err, text).to.be.instanceOf(InputError);
    const e = err as InputError;
    expect(e.message.split('\n'), 'one line').to.have.length(1);
    expect(e.fix, 'names a fix').to.be.a('string').and.not.equal('');
    return e.message;
  }
  throw new Error(`accepted a hostile person file:\n${text}`);
}

describe('people: the person file parser (hostile files)', () => {
  it('reads what tm3 writes, and round-trips it', () => {
    const p = parsePerson('alice', good(), catalog);
    expect(p).to.deep.include({ name: 'alice', services: ['sip', 'ssh'], expires: '2027-03-31T23:59:59Z', permanent: false, key: KEY, hmacKey: HMAC });
    expect(parsePerson('alice', formatPerson(p), catalog)).to.deep.equal(p);
    const k = parsePerson('alice', good('knock=40123,2345,61000\n'), catalog);
    expect(k.knock).to.deep.equal([40123, 2345, 61000]);
    expect(parsePerson('alice', formatPerson(k), catalog)).to.deep.equal(k);
  });

  const cases: [string, string][] = [
    ['an unknown key', good('evil=1\n')],
    ['a second section', `${good()}[other]\nx=1\n`],
    ['keys outside [person]', `key=${KEY}\n${good()}`],
    ['no section at all', `services=ssh\nkey=${KEY}\nhmac_key=${HMAC}\n`],
    ['an empty file', ''],
    ['a short key', good().replace(KEY, Buffer.alloc(16).toString('base64'))],
    ['a key that is not base64', good().replace(KEY, `${KEY.slice(0, -2)}!=`)],
    ['a key with a space and more words', good().replace(KEY, `${KEY} CMD_CYCLE_OPEN /bin/sh`)],
    ['a newline smuggled into the HMAC key', good().replace(HMAC, `${HMAC}\\nCMD_CYCLE_OPEN /bin/sh`)],
    ['no HMAC key', good().replace(`hmac_key=${HMAC}\n`, '')],
    ['an unknown service', good().replace('ssh,sip', 'ssh,everything')],
    ['no services', good().replace('services=ssh,sip', 'services=')],
    ['a bad expiry', good().replace('2027-03-31T23:59:59Z', 'next tuesday')],
    ['an expiry with shell', good().replace('2027-03-31T23:59:59Z', '$(reboot)')],
    ['permanent=maybe', good().replace('permanent=false', 'permanent=maybe')],
    ['an array value', good('services[]=ssh\n')],
    ['a grant of zero', good('grant_seconds=0\n')],
    ['a grant too long', good('grant_seconds=99999999999\n')],
    ['__proto__ as a key', good('__proto__=x\n')],
    ['a knock of two ports', good('knock=40123,2345\n')],
    ['a knock with a repeated port', good('knock=40123,40123,61000\n')],
    ['a knock below 1024', good('knock=22,2345,61000\n')],
    ['a knock with shell in it', good('knock=40123,2345,$(id)\n')],
  ];
  for (const [what, text] of cases) it(`refuses ${what}`, () => { refused(text); });

  it('refuses names that would be paths, options or shell', () => {
    for (const n of ['', '../root', 'Alice', 'a b', '-rf', 'alice;id', 'a'.repeat(33), 'x.conf', '$(id)', 'é']) expect(() => validatePersonName(n), n).to.throw(InputError);
  });

  it('any text either parses into checked values or is refused with one line (fast-check)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 60 }), (junk, value) => {
      for (const text of [junk, good(`${junk}\n`), good().replace(KEY, value), good().replace('ssh,sip', value)]) {
        let p: Person;
        try { p = parsePerson('alice', text, catalog); } catch (e) { expect(e).to.be.instanceOf(InputError); continue; }
        expect(p.key).to.match(/^[A-Za-z0-9+/]+=*$/);
        expect(Buffer.from(p.key, 'base64')).to.have.length(32);
        expect(p.hmacKey).to.match(/^[A-Za-z0-9+/]+=*$/);
      }
    }), { numRuns: 150 });
  });

  it('--expires and --grant: dates and durations, nothing in the past', () => {
    const now = Date.parse('2026-11-26T12:00:00Z');
    expect(parseExpires('2027-03-31', now)).to.equal('2027-03-31T23:59:59Z');
    expect(parseExpires('2027-03-31T18:00:00Z', now)).to.equal('2027-03-31T18:00:00Z');
    for (const bad of ['2020-01-01', 'tomorrow', '31/03/2027', '2027-13-01', '']) expect(() => parseExpires(bad, now), bad).to.throw(InputError);
    expect(parseDuration('90m')).to.equal(5400);
    expect(parseDuration('2h')).to.equal(7200);
    expect(parseDuration('45')).to.equal(45);
    for (const bad of ['0', '-5', '1w', '10 m', '99999999d', '']) expect(() => parseDuration(bad), bad).to.throw(InputError);
    expect(expired({ expires: '2026-11-26T11:59:59Z' } as Person, now)).to.equal(true);
    expect(expired({ expires: '2026-11-26T12:00:01Z' } as Person, now)).to.equal(false);
    expect(expired({} as Person, now)).to.equal(false);
  });
});

describe('people: the store reads person files like entries (links, FIFOs, modes)', () => {
  let root: string;
  let paths: Paths;
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-people-')); paths = new Paths(root); });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('skips a symlink, a FIFO, a world-writable file, a bad name and garbage; keeps the good one', async () => {
    const good1 = parsePerson('alice', good(), catalog);
    await writePerson(paths, good1);
    expect(fs.statSync(paths.userFile('alice')).mode & 0o777).to.equal(0o600);
    fs.writeFileSync(path.join(root, 'secret'), good());
    fs.symlinkSync(path.join(root, 'secret'), paths.userFile('linked'));
    execFileSync('mkfifo', [paths.userFile('fifo')]);
    fs.writeFileSync(paths.userFile('open'), good(), { mode: 0o666 });
    fs.chmodSync(paths.userFile('open'), 0o666);
    fs.writeFileSync(paths.userFile('Bad-Name'), good(), { mode: 0o600 });
    fs.writeFileSync(paths.userFile('junk'), 'CMD_CYCLE_OPEN /bin/sh\n', { mode: 0o600 });
    fs.writeFileSync(paths.userFile('huge'), `${good()}${'#'.repeat(70_000)}\n`, { mode: 0o600 });
    const t0 = Date.now();
    const r = await readPeople(paths, catalog);
    expect(Date.now() - t0, 'a FIFO must not block the read').to.be.below(2000);
    expect(r.people.map((p) => p.name)).to.deep.equal(['alice']);
    const said = r.warnings.join('\n');
    for (const n of ['linked', 'fifo', 'open', 'Bad-Name', 'junk', 'huge']) expect(said, n).to.include(`users/${n}.conf`);
  });

  it('access.conf: one stanza per person, opening only through tm3 (no fwknop firewall), and the card holds their key only', async () => {
    const config = await loadConfig(paths);
    const alice = parsePerson('alice', good(), catalog);
    const bob = { ...alice, name: 'bob', key: Buffer.alloc(32, 1).toString('base64'), hmacKey: Buffer.alloc(64, 2).toString('base64') };
    const inputs = { people: [alice, bob], interface: 'eth0', server: '192.0.2.1', addressKnown: true, tm3: '/usr/bin/node /usr/local/lib/tm3/dist/cli/main.js' };
    const [conf, access] = spaFiles(config, paths, inputs);
    expect(conf.text).to.match(/^FIREWALL_EXE\s+\/bin\/true;$/m).and.match(/^ENABLE_IPT_FORWARDING\s+N;$/m).and.match(/^PCAP_INTF\s+eth0;$/m).and.match(/^PCAP_FILTER\s+udp port 62201;$/m);
    expect(access.text.match(/^SOURCE\s+ANY$/gm)).to.have.length(2);
    expect(access.text).to.include(`KEY_BASE64                ${bob.key}`);
    expect(access.text).to.match(/^CMD_CYCLE_OPEN\s+\S*\/usr\/local\/sbin\/tm3-knock-grant \$SRC alice spa \$PKT_SRC$/m);
    expect(access.mode).to.equal(0o600);
    const card = cardFile(config, paths, inputs, alice);
    expect(card.mode).to.equal(0o600);
    expect(card.text).to.include(alice.key).and.include(alice.hmacKey).and.include('[tm3-alice]').and.include('sip, ssh');
    expect(card.text).not.to.include(bob.key);
  });
});
