import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab, type Host } from '../../src/lab/lab.js';
import { writeBulkEntries } from '../../src/lab/bulk.js';
import { requireLab } from './prereq.js';
import { expectOnly } from './access.js';

// The entry index (/var/lib/tm3/entries.index) is a cache: list, status and restart must say and
// do exactly what they do without it, whatever happened to the store since it was written.

describe('entry index (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  let friend: Host, stranger: Host;
  const R = (f: string) => path.join(lab.root, f);
  const index = () => R('var/lib/tm3/entries.index');
  const settle = () => new Promise((r) => setTimeout(r, 300));
  const run = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).to.be.oneOf(args[0] === 'status' ? [0, 1] : [0]);
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  };
  /** each command with the index as it is, then with none (the fresh read) */
  const sameWithAndWithout = async (label: string) => {
    for (const args of [['list', '--json'], ['status', '--json'], ['restart', '--dry-run']]) {
      const withIndex = await run(args);
      fs.rmSync(index(), { force: true });
      const without = await run(args);
      expect(withIndex, `${label}: ${args.join(' ')}`).to.deep.equal(without);
    }
  };

  before(async function () {
    requireLab(this);
    lab = await Lab.create(2);
    [friend, stranger] = lab.clients;
    await lab.startResponder();
    lab.writeConfig();
    writeBulkEntries(lab.root, 500);
    expect((await lab.tm3(['add-ip', 'friend', friend.v4, '--services', 'sip'])).exitCode).to.equal(0);
    expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
  });
  after(async () => { await lab?.destroy(); });

  it('a dry run writes no index; list does, root\'s and private, one record per good entry', async () => {
    fs.rmSync(index(), { force: true });
    await settle();
    await run(['restart', '--dry-run']);
    expect(fs.existsSync(index()), 'written by a dry run').to.equal(false);
    await run(['list', '--json']);
    const st = fs.lstatSync(index());
    expect([st.isFile(), st.uid, st.mode & 0o777]).to.deep.equal([true, 0, 0o600]);
    expect(JSON.parse(fs.readFileSync(index(), 'utf8')).rows.length).to.equal(501);
  });

  it('a file rewritten to the same size with its mtime put back: the new address is whitelisted, the old one refused', async () => {
    await settle();
    await run(['list', '--json']); // friend's record in the index
    const f = R('root/friend.iptables');
    const st = fs.statSync(f, { bigint: true });
    await execa('touch', ['-r', f, R('times')]); // its times, to the nanosecond
    const text = fs.readFileSync(f, 'utf8');
    const edited = text.replace(friend.v4, stranger.v4);
    expect(edited.length).to.equal(text.length);
    fs.writeFileSync(f, edited);
    await execa('touch', ['-r', R('times'), f]);
    const now = fs.statSync(f, { bigint: true });
    expect([now.size, now.mtimeNs, now.ino]).to.deep.equal([st.size, st.mtimeNs, st.ino]);
    const r = await lab.tm3(['restart']);
    expect(r.exitCode, r.stderr).to.equal(0);
    await Promise.all([
      expectOnly(lab, friend, 4, []),
      expectOnly(lab, stranger, 4, ['tcp/5060', 'udp/5060']),
    ]);
    fs.writeFileSync(f, text);
    expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    await expectOnly(lab, friend, 4, ['tcp/5060', 'udp/5060']);
  });

  it('list, status and restart --dry-run say the same with and without the index after every kind of edit', async () => {
    const f = (n: number) => R(`root/bulk-${n}.iptables`);
    const edits: [string, () => void][] = [
      ['none', () => undefined],
      ['edited in place, same size and mtime', () => { execFileSync('touch', ['-r', f(1), R('times')]); fs.writeFileSync(f(1), fs.readFileSync(f(1), 'utf8').replace('services=sip', 'services=web')); execFileSync('touch', ['-r', R('times'), f(1)]); }],
      ['deleted', () => fs.rmSync(f(2))],
      ['added', () => fs.writeFileSync(R('root/late.iptables'), '[entry]\naddress=203.0.113.7\nservices=all\n', { mode: 0o600 })],
      ['touched', () => fs.utimesSync(f(3), new Date(0), new Date(0))],
      ['made group-writable', () => fs.chmodSync(f(4), 0o664)],
      ['given to uid 1000', () => fs.chownSync(f(5), 1000, 1000)],
      ['swapped for a link to a good entry', () => { fs.rmSync(f(6)); fs.symlinkSync(f(7), f(6)); }],
      ['swapped for a directory', () => { fs.rmSync(f(8)); fs.mkdirSync(f(8)); }],
      ['replaced by rename', () => { fs.writeFileSync(`${f(9)}.new`, '[entry]\nhost=pbx.example.org\nservices=sip\n', { mode: 0o600 }); fs.renameSync(`${f(9)}.new`, f(9)); }],
      ['garbage', () => fs.writeFileSync(f(10), 'not an entry at all\n')],
      ['index truncated', () => fs.truncateSync(index(), 100)],
      ['index made world-readable', () => fs.chmodSync(index(), 0o644)],
    ];
    for (const [what, edit] of edits) {
      await settle();
      await run(['list', '--json']); // the index as it was before the edit
      expect(fs.existsSync(index()), `${what}: index before`).to.equal(true);
      edit();
      await sameWithAndWithout(what);
    }
  });
});
