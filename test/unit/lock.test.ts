import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';
import { withLock } from '../../src/store/lock.js';
import { Paths } from '../../src/store/paths.js';
import { PrereqError } from '../../src/model/errors.js';

const LOCK_TS = fileURLToPath(new URL('../../src/store/lock.ts', import.meta.url));
const PATHS_TS = fileURLToPath(new URL('../../src/store/paths.ts', import.meta.url));

describe('store lock', () => {
  let root: string;
  let paths: Paths;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-lock-'));
    paths = new Paths(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('lets one holder in at a time and loses no update', async () => {
    const file = path.join(root, 'counter');
    fs.writeFileSync(file, '0');
    await Promise.all(Array.from({ length: 20 }, () => withLock(paths, async () => {
      const n = Number(fs.readFileSync(file, 'utf8'));
      await new Promise((r) => setTimeout(r, 2));
      fs.writeFileSync(file, String(n + 1));
    })));
    expect(fs.readFileSync(file, 'utf8')).to.equal('20');
    expect(fs.existsSync(path.join(paths.stateDir, 'tm3.lock')), 'released').to.equal(false);
  });

  it('a live holder makes the next command fail with its pid, after the wait', async () => {
    let release!: () => void;
    const held = withLock(paths, () => new Promise<void>((r) => { release = r; }));
    await new Promise((r) => setTimeout(r, 50));
    const err = await withLock(paths, async () => 'got in', { waitMs: 200 }).catch((e) => e);
    expect(err).to.be.instanceOf(PrereqError);
    expect(err.message).to.include(`pid ${process.pid}`);
    release();
    await held;
  });

  it('a lock naming a live pid that is not its holder (the pid reused since) is taken over', async () => {
    fs.mkdirSync(paths.stateDir, { recursive: true });
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidns = fs.readlinkSync('/proc/self/ns/pid').replace(/\D/g, '');
    // this process is alive, but it started at another time than the lock says
    fs.symlinkSync(`${boot} ${pidns} ${process.pid} 1`, path.join(paths.stateDir, 'tm3.lock'));
    expect(await withLock(paths, async () => 'got in', { waitMs: 0 })).to.equal('got in');
  });

  it('a lock naming a live holder, start time and all, is never broken', async () => {
    fs.mkdirSync(paths.stateDir, { recursive: true });
    const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidns = fs.readlinkSync('/proc/self/ns/pid').replace(/\D/g, '');
    fs.symlinkSync(`${boot} ${pidns} ${process.pid} ${start}`, path.join(paths.stateDir, 'tm3.lock'));
    const err = await withLock(paths, async () => 'got in', { waitMs: 100 }).catch((e) => e);
    expect(err).to.be.instanceOf(PrereqError);
  });

  it('the lock of a holder killed with SIGKILL is taken over at once, not after a timeout', async () => {
    const code = `import { withLock } from '${LOCK_TS}'; import { Paths } from '${PATHS_TS}';
      await withLock(new Paths(${JSON.stringify(root)}), async () => { console.log('holding'); await new Promise(() => setInterval(() => 0, 1000)); });`;
    const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { reject: false });
    await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('holding')) resolve(); }));
    expect(fs.lstatSync(path.join(paths.stateDir, 'tm3.lock')).isSymbolicLink()).to.equal(true);
    child.kill('SIGKILL');
    await child;
    // waitMs 0: a lock still believed held would fail here at once
    expect(await withLock(paths, async () => 'got in', { waitMs: 0 })).to.equal('got in');
  });
});
