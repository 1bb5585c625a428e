import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { readEntries } from '../../src/store/entries.js';
import { indexFile, flushIndex, type IndexFile } from '../../src/store/entry-index.js';
import { Paths } from '../../src/store/paths.js';
import { buildCatalog } from '../../src/model/services.js';

// The entry index (src/store/entry-index.ts) is a cache: whatever is in it, readEntries must
// give exactly what a fresh read of every file gives, and never accept a file a fresh read refuses.

const catalog = buildCatalog();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** longer than the index's settling time for sub-second filesystems (100 ms) */
const settle = () => sleep(150);

let seed = 17;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
};
const pick = <T>(xs: T[]): T => xs[rnd(xs.length)];
const hex = () => rnd(0x10000).toString(16);

/** A random entry file: mostly good ones of every form, some refused by the parser. */
function randomText(): string {
  const svc = pick(['sip', 'all', 'sip,web', 'web, sip', 'SSH', 'iax,fop', 'nope', 'sip-udp,sip-tcp']);
  const extra = `services=${svc}\nsource=${pick(['admin', 'knock', 'provider', 'migrated', 'evil'])}\nadded=2026-0${1 + rnd(9)}-01T00:00:00.000Z\n${pick(['', '', 'ban=never\n', 'ban=allow\n', 'ban=maybe\n'])}`;
  switch (rnd(8)) {
    case 0: return `[entry]\naddress=${rnd(224)}.${rnd(256)}.${rnd(256)}.${rnd(256)}\n${extra}`;
    case 1: return `[entry]\naddress=198.51.${rnd(256)}.0/${pick([24, 23, 25, 32, 4])}\n${extra}`;
    case 2: return `[entry]\naddress=2001:db8:${hex()}::${hex()}/${pick(['128', '64', '48', '0128'])}\n${extra}`;
    case 3: return `[entry]\nhost=h${rnd(1000)}.Example.ORG\n${pick(['', 'family=4\n', 'family=6\n', 'family=5\n'])}${extra}`;
    case 4: return `203.0.113.${rnd(256)}\n`;
    case 5: return `h${rnd(99)}.dyndns.example.org ${pick(['198.51.100.4', '2001:db8::9', 'x'])}\n`;
    case 6: return pick(['', '# only a comment\n', '[entry]\naddress=1.2.3.4\nhost=a.example.org\n', 'a b c\n', '[entry]\naddress=::ffff:192.0.2.1\n']);
    default: return `# tm3 whitelist entry.\n[entry]\naddress=2001:DB8::${hex()}\n${extra}`;
  }
}

describe('entry index', function () {
  this.timeout(60_000);
  let root: string;
  let paths: Paths;
  const file = (name: string) => path.join(paths.storeDir, `${name}.iptables`);
  const fresh = () => readEntries(paths, catalog, { index: false });
  // as the CLI does: the index is written once the command has succeeded
  const cached = async () => { const r = await readEntries(paths, catalog); await flushIndex(); return r; };
  const readIndex = () => JSON.parse(fs.readFileSync(indexFile(paths), 'utf8')) as IndexFile;
  const writeIndex = (d: IndexFile, mode = 0o600) => {
    fs.rmSync(indexFile(paths), { force: true });
    fs.writeFileSync(indexFile(paths), JSON.stringify(d), { mode });
    fs.chmodSync(indexFile(paths), mode);
  };
  /** The index with row NAME's address changed to a stranger's: what readEntries returns shows whether it used the row. */
  const tamper = (name: string) => {
    const d = readIndex();
    const row = d.rows.find((r) => r[0] === name)!;
    expect(row, `a row for ${name}`).to.not.equal(undefined);
    row[3] = '203.0.113.66/32';
    writeIndex(d);
    return d;
  };
  const addressOf = async (name: string) => (await cached()).entries.find((e) => e.name === name)?.address?.cidr;

  before(() => {
    if (process.geteuid?.() !== 0) throw new Error('the entry index is root\'s: run this test as root');
  });
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-index-'));
    paths = new Paths(root);
    fs.mkdirSync(paths.storeDir, { recursive: true });
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('gives what a fresh read gives, for 3,000 random files and after edits, deletes, adds, touch -d, chmod, chown and symlink swaps', async () => {
    const names: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const name = `e${i}`;
      names.push(name);
      fs.writeFileSync(file(name), randomText(), { mode: 0o600 });
    }
    await settle();
    const want0 = await fresh();
    expect(want0.entries.length).to.be.above(1000);
    expect(want0.warnings.length).to.be.above(100);
    expect(await cached()).to.deep.equal(want0); // builds the index
    // only good files are recorded, each one of them
    expect(readIndex().rows.length).to.equal(want0.entries.length);
    expect(await cached()).to.deep.equal(want0); // from the index
    expect(fs.statSync(indexFile(paths)).mode & 0o777).to.equal(0o600);

    const good = want0.entries.map((e) => e.name);
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 40; k++) {
        const name = pick(good);
        const f = file(name);
        if (!fs.existsSync(f) || fs.lstatSync(f).isSymbolicLink()) continue;
        const times = path.join(root, 'times');
        switch (rnd(9)) {
          case 0: { // same size, new text, mtime put back to the nanosecond: only ctime tells
            const text = fs.readFileSync(f, 'utf8');
            const other = text.replace(/\d(?=[^\d]*$)/, (d) => String((Number(d) + 1) % 10));
            execFileSync('touch', ['-r', f, times]);
            fs.writeFileSync(f, other);
            execFileSync('touch', ['-r', times, f]);
            break;
          }
          case 1: fs.rmSync(f); break;
          case 2: fs.writeFileSync(file(`new${round}-${k}`), randomText(), { mode: 0o600 }); break;
          case 3: fs.chmodSync(f, 0o666); break;
          case 4: fs.chmodSync(f, 0o640); break;
          case 5: fs.chownSync(f, 1000, 1000); break;
          case 6: fs.chownSync(f, 0, 1000); break;
          case 7: { // a link to a good file in its place
            fs.rmSync(f);
            fs.symlinkSync(file(pick(good)), f);
            break;
          }
          default: { // delete, then a new file on the same name (perhaps the same inode)
            const text = randomText();
            fs.rmSync(f);
            fs.writeFileSync(f, text, { mode: 0o600 });
          }
        }
      }
      const want = await fresh();
      expect(await cached(), `round ${round}, at once`).to.deep.equal(want);
      await settle();
      expect(await cached(), `round ${round}, settled`).to.deep.equal(want);
      expect(await cached(), `round ${round}, from the index`).to.deep.equal(want);
    }
  });

  it('uses a record only while every stat field matches: any change to the file, or to the record\'s key, reads the file again', async () => {
    for (let i = 0; i < 12; i++) fs.writeFileSync(file(`e${i}`), `[entry]\naddress=198.51.100.${i}\nservices=sip\nsource=admin\nadded=x\n`, { mode: 0o600 });
    await settle();
    await cached();
    // the control: a record whose key matches is believed (so the cases below prove something)
    tamper('e0');
    expect(await addressOf('e0')).to.equal('203.0.113.66/32');
    // the key is [dev, ino, size, mode, uid, mtimeMs, ctimeMs]; each field off by one, the times
    // by a microsecond (as a double they resolve about a quarter of one)
    for (let field = 0; field < 7; field++) {
      const d = tamper('e0');
      const row = d.rows.find((r) => r[0] === 'e0')!;
      const parts = [...row[1]] as typeof row[1];
      const was = parts[field];
      parts[field] = field < 5 ? was + 1 : was + 0.001;
      expect(parts[field], `field ${field}`).to.not.equal(was);
      row[1] = parts;
      writeIndex(d);
      expect(await addressOf('e0'), `field ${field}`).to.equal('198.51.100.0/32');
      await settle();
      await cached(); // a good record again
    }
    // and real changes to the file, each after its record was tampered with
    const changes: [string, (f: string) => void][] = [
      ['same size and mtime, new text', (f) => {
        const times = path.join(root, 'times');
        const before = fs.statSync(f, { bigint: true });
        execFileSync('touch', ['-r', f, times]);
        fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('added=x', 'added=y'));
        execFileSync('touch', ['-r', times, f]);
        const after = fs.statSync(f, { bigint: true });
        expect([after.size, after.mtimeNs, after.ino]).to.deep.equal([before.size, before.mtimeNs, before.ino]);
      }],
      ['chmod 640', (f) => fs.chmodSync(f, 0o640)],
      ['chgrp', (f) => fs.chownSync(f, 0, 1000)],
      ['touch', (f) => fs.utimesSync(f, new Date(), new Date())],
      ['replaced by rename', (f) => { fs.writeFileSync(`${f}.tmp`, fs.readFileSync(f), { mode: 0o600 }); fs.renameSync(`${f}.tmp`, f); }],
      ['hard link count', (f) => fs.linkSync(f, `${f}.extra`)],
    ];
    for (const [i, [what, change]] of changes.entries()) {
      const name = `e${i + 1}`;
      tamper(name);
      expect(await addressOf(name), `${what}: control`).to.equal('203.0.113.66/32');
      tamper(name);
      change(file(name));
      expect(await addressOf(name), what).to.equal(`198.51.100.${i + 1}/32`);
    }
  });

  it('never accepts a file a fresh read refuses, even with a matching record in the index', async () => {
    fs.writeFileSync(file('ok'), '[entry]\naddress=198.51.100.1\nservices=sip\n', { mode: 0o600 });
    for (const n of ['shared', 'other']) fs.writeFileSync(file(n), '[entry]\naddress=203.0.113.9\nservices=all\n', { mode: 0o600 });
    await settle();
    await cached();
    // a record made by hand for a file while it was good, then the file becomes one tm3 refuses
    // in a way that keeps every field of the key but the one checked (mode, uid): impossible, so the
    // record is forged from the refused file's own stat
    fs.chmodSync(file('shared'), 0o666);
    fs.chownSync(file('other'), 1000, 1000);
    const d = readIndex();
    for (const n of ['shared', 'other']) {
      const st = fs.lstatSync(file(n));
      const key: [number, number, number, number, number, number, number] = [st.dev, st.ino, st.size, st.mode, st.uid, st.mtimeMs, st.ctimeMs];
      d.rows = d.rows.filter((r) => r[0] !== n);
      d.rows.push([n, key, 'a', '203.0.113.9/32', 'all', 'admin', '', '', 0, '']);
    }
    writeIndex(d);
    const r = await cached();
    expect(r.entries.map((e) => e.name)).to.deep.equal(['ok']);
    expect(r.warnings.join('\n')).to.match(/skipped other\.iptables: it is owned by uid 1000/).and.match(/skipped shared\.iptables: it is writable by group or others/);
    expect(r).to.deep.equal(await fresh());
  });

  describe('an index that cannot be trusted is ignored and rebuilt', () => {
    const hostile: [string, (d: IndexFile) => void][] = [
      ['mode 644', (d) => writeIndex(d, 0o644)],
      ['mode 640', (d) => writeIndex(d, 0o640)],
      ['owned by uid 1000', (d) => { writeIndex(d); fs.chownSync(indexFile(paths), 1000, 1000); }],
      ['a symbolic link to a good-looking index', (d) => { const t = path.join(root, 'elsewhere'); fs.writeFileSync(t, JSON.stringify(d), { mode: 0o600 }); fs.rmSync(indexFile(paths)); fs.symlinkSync(t, indexFile(paths)); }],
      ['a second hard link', (d) => { writeIndex(d); fs.linkSync(indexFile(paths), path.join(root, 'hardlink')); }],
      ['another store dir', (d) => writeIndex({ ...d, dir: '/elsewhere' })],
      ['another tm3 version', (d) => writeIndex({ ...d, version: '0.0.1' })],
      ['another service catalog', (d) => writeIndex({ ...d, services: `${d.services},extra` })],
      ['another format (1: the BigInt nanosecond keys before)', (d) => writeIndex({ ...d, format: 1 })],
      ['the format before, its keys as text', (d) => writeIndex({ ...d, format: 2, rows: d.rows.map((r) => [r[0], r[1].join(':'), ...r.slice(2)]) } as unknown as typeof d)],
    ];
    for (const [what, plant] of hostile) {
      it(what, async () => {
        fs.writeFileSync(file('a'), '[entry]\naddress=198.51.100.1\nservices=sip\n', { mode: 0o600 });
        await settle();
        const want = await fresh();
        await cached();
        const d = readIndex();
        d.rows[0][3] = '203.0.113.66/32';
        plant(d);
        expect(await cached()).to.deep.equal(want);
        // rebuilt: root's, private, trusted again
        const st = fs.lstatSync(indexFile(paths));
        expect([st.isFile(), st.uid, st.mode & 0o777, st.nlink]).to.deep.equal([true, 0, 0o600, 1]);
        expect(readIndex().rows[0][3]).to.equal('198.51.100.1/32');
      });
    }

    const garbage: [string, string][] = [
      ['truncated', '{"format":1,"version":"0.2.0","dir":'],
      ['not JSON', '\u0000\u0001garbage'],
      ['null', 'null'],
      ['an array', '[1,2,3]'],
      ['empty', ''],
    ];
    for (const [what, text] of garbage) {
      it(`${what} text`, async () => {
        fs.writeFileSync(file('a'), '[entry]\naddress=198.51.100.1\nservices=sip\n', { mode: 0o600 });
        await settle();
        const want = await fresh();
        fs.mkdirSync(paths.stateDir, { recursive: true });
        fs.writeFileSync(indexFile(paths), text, { mode: 0o600 });
        expect(await cached()).to.deep.equal(want);
        expect(readIndex().rows.length).to.equal(1);
      });
    }

    it('a FIFO in its place does not hang tm3', async () => {
      fs.writeFileSync(file('a'), '[entry]\naddress=198.51.100.1\nservices=sip\n', { mode: 0o600 });
      fs.mkdirSync(paths.stateDir, { recursive: true });
      execFileSync('mkfifo', ['-m', '600', indexFile(paths)]);
      expect(await cached()).to.deep.equal(await fresh());
    });

    // rows of the wrong shape or with values a parse could never give: that file is read instead
    const rows: [string, unknown[]][] = [
      ['an address that is not one', ['a', 'KEY', 'a', '203.0.113.66/33', 'sip', 'admin', '', '', 0, '']],
      ['a v4 address with letters', ['a', 'KEY', 'a', '203.0.113.ab/32', 'sip', 'admin', '', '', 0, '']],
      ['an unknown service', ['a', 'KEY', 'a', '203.0.113.66/32', 'everything', 'admin', '', '', 0, '']],
      ['all with others', ['a', 'KEY', 'a', '203.0.113.66/32', 'all,sip', 'admin', '', '', 0, '']],
      ['services out of catalog order', ['a', 'KEY', 'a', '203.0.113.66/32', 'web,sip', 'admin', '', '', 0, '']],
      ['an unknown source', ['a', 'KEY', 'a', '203.0.113.66/32', 'sip', 'root', '', '', 0, '']],
      ['an unknown kind', ['a', 'KEY', 'x', '203.0.113.66/32', 'sip', 'admin', '', '', 0, '']],
      ['a bad ban', ['a', 'KEY', 'a', '203.0.113.66/32', 'sip', 'admin', '', 'yes', 0, '']],
      ['a family on an address', ['a', 'KEY', 'a', '203.0.113.66/32', 'sip', 'admin', '', '', 4, '']],
      ['a host with spaces', ['a', 'KEY', 'h', 'evil host', 'sip', 'admin', '', '', 0, '']],
      ['a number for a name', [7, 'KEY', 'a', '203.0.113.66/32', 'sip', 'admin', '', '', 0, '']],
      ['too short', ['a', 'KEY', 'a', '203.0.113.66/32']],
      ['a key as text', ['a', 'TEXTKEY', 'a', '203.0.113.66/32', 'sip', 'admin', '', '', 0, '']],
      ['a key one field short', ['a', 'SHORTKEY', 'a', '203.0.113.66/32', 'sip', 'admin', '', '', 0, '']],
      ['an object', { 0: 'a', 1: 'KEY' } as unknown as unknown[]],
    ];
    for (const [what, row] of rows) {
      it(`a row with ${what}`, async () => {
        fs.writeFileSync(file('a'), '[entry]\naddress=198.51.100.1\nservices=sip\n', { mode: 0o600 });
        await settle();
        const want = await fresh();
        await cached();
        const d = readIndex();
        const key = d.rows[0][1];
        (d as unknown as { rows: unknown[] }).rows = [Array.isArray(row) ? row.map((x) => (x === 'KEY' ? key : x === 'TEXTKEY' ? key.join(':') : x === 'SHORTKEY' ? key.slice(0, 6) : x)) : row];
        writeIndex(d);
        expect(await cached()).to.deep.equal(want);
      });
    }
  });

  it('is not read or written with index: false, and a file changed within the settling time is not recorded', async () => {
    fs.writeFileSync(file('a'), '[entry]\naddress=198.51.100.1\nservices=sip\n', { mode: 0o600 });
    await settle();
    await fresh();
    expect(fs.existsSync(indexFile(paths))).to.equal(false);
    fs.writeFileSync(file('b'), '[entry]\naddress=198.51.100.2\nservices=sip\n', { mode: 0o600 });
    await cached();
    expect(readIndex().rows.map((r) => r[0])).to.deep.equal(['a']);
    await settle();
    await cached();
    expect(readIndex().rows.map((r) => r[0])).to.deep.equal(['a', 'b']);
  });
});
