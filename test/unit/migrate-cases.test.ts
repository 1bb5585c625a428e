// The legacy fixtures in test/fixtures/legacy/<case>/: root/ is the box, expected.txt the
// annotated report. Each case is migrated in a scratch copy: the report must match line for
// line, a second run must change nothing, a dry run must write nothing, and the rollback must
// put back every touched file byte for byte.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { makeContext } from '../../src/cli/context.js';
import { migrate, rollback } from '../../src/ops/migrate.js';
import { readKnockState } from '../../src/store/knock-state.js';

const LEGACY = fileURLToPath(new URL('../fixtures/legacy/', import.meta.url));
process.env.TM3_NO_SYSLOG = '1';

/** Every file under root (backups aside) with its bytes, for byte-exact comparisons. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { if (path.relative(root, p) !== 'var/backups') walk(p); } else if (e.isSymbolicLink()) out[path.relative(root, p)] = `link ${fs.readlinkSync(p)}`; else out[path.relative(root, p)] = `${(fs.statSync(p).mode & 0o777).toString(8)} ${fs.readFileSync(p).toString('base64')}`;
    }
  };
  walk(root);
  return out;
}

const expectedReport = (c: string) => fs.readFileSync(path.join(LEGACY, c, 'expected.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));

describe('tm3 migrate over the legacy fixtures', () => {
  const cases = fs.readdirSync(LEGACY).filter((c) => fs.existsSync(path.join(LEGACY, c, 'expected.txt')));
  it('has the four required cases', () => expect(cases).to.include.members(['ubuntu-2016', 'centos-sysconfig', 'debian-2018', 'blank-files']));

  for (const c of cases) {
    describe(c, () => {
      let root: string;
      beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), `tm3-migrate-${c}-`));
        fs.cpSync(path.join(LEGACY, c, 'root'), root, { recursive: true });
      });
      afterEach(() => fs.rmSync(root, { recursive: true, force: true }));
      const ctx = () => makeContext({ root, quiet: true });

      it('reports exactly the annotated entries and lines', async () => {
        const r = await migrate(await ctx(), false);
        expect(r.plan.report).to.deep.equal(expectedReport(c));
        expect(fs.readFileSync(path.join(root, r.backupDir!.slice(root.length), 'report.txt'), 'utf8')).to.equal(`${r.plan.report.join('\n')}\n`);
      });

      it('a dry run writes nothing and shows the diffs', async () => {
        const before = tree(root);
        const r = await migrate(await ctx(), true);
        expect(tree(root)).to.deep.equal(before);
        expect(r.changed.length).to.be.greaterThan(0);
        expect(r.diffs.join('\n')).to.match(/^would (change|create) \/etc\/iptables\/rules\.v4/m);
      });

      it('a second run changes nothing, and the rollback is byte-exact', async () => {
        const original = tree(root);
        await migrate(await ctx(), false);
        const migrated = tree(root);
        const again = await migrate(await ctx(), false);
        expect(again.changed).to.deep.equal([]);
        expect(tree(root)).to.deep.equal(migrated);
        await rollback(await ctx(), false);
        expect(tree(root)).to.deep.equal(original);
      });
    });
  }

  it('a fresh box has nothing to migrate, and nothing is rendered for it', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-migrate-fresh-'));
    try {
      const r = await migrate(await makeContext({ root, quiet: true }), false);
      expect(r.plan.report).to.deep.equal([]);
      expect(r.changed).to.deep.equal([]);
      expect(Object.keys(tree(root)).filter((f) => !f.startsWith('var/lib/tm3/tm3.lock'))).to.deep.equal([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps the legacy knock sequence, in knockd.conf and in knock.FAQ', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-migrate-knock-'));
    try {
      fs.cpSync(path.join(LEGACY, 'ubuntu-2016', 'root'), root, { recursive: true });
      fs.mkdirSync(path.join(root, 'etc/tm3'), { recursive: true });
      fs.writeFileSync(path.join(root, 'etc/tm3/tm3.conf'), '[knock]\ninterface = eth0\n');
      const c = await makeContext({ root, quiet: true });
      await migrate(c, false);
      expect((await readKnockState(c.paths)).sequence).to.deep.equal([7113, 8224, 9335]);
      expect(fs.readFileSync(path.join(root, 'etc/knockd.conf'), 'utf8')).to.match(/^\s*sequence\s*=\s*7113:tcp,8224:tcp,9335:tcp$/m);
      expect(fs.readFileSync(path.join(root, 'root/knock.FAQ'), 'utf8')).to.include('7113, then 8224, then 9335');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('tm3 migrate reads the legacy store as the entry store does', () => {
  it('a link, a file others can write, or a FIFO in /root is reported and never whitelisted', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-migrate-hostile-'));
    try {
      fs.mkdirSync(path.join(root, 'root'), { mode: 0o700 });
      fs.writeFileSync(path.join(root, 'planted'), '203.0.113.66\n');
      fs.symlinkSync(path.join(root, 'planted'), path.join(root, 'root/evil.iptables'));
      fs.writeFileSync(path.join(root, 'root/open.iptables'), '203.0.113.67\n', { mode: 0o666 });
      fs.chmodSync(path.join(root, 'root/open.iptables'), 0o666);
      execFileSync('mkfifo', [path.join(root, 'root/pipe.iptables')]);
      fs.writeFileSync(path.join(root, 'root/good.iptables'), '203.0.113.68\n', { mode: 0o600 });
      // the legacy rules admit every one of them: only the files are hostile
      fs.mkdirSync(path.join(root, 'etc/iptables'), { recursive: true });
      fs.writeFileSync(path.join(root, 'etc/iptables/rules.v4'), `*filter\n:INPUT DROP [0:0]\n${[66, 67, 68, 69].map((n) => `-A INPUT -s 203.0.113.${n}/32 -p udp --dport 5060 -j ACCEPT\n`).join('')}COMMIT\n`);
      const r = await migrate(await makeContext({ root, quiet: true }), true);
      expect(r.plan.entries.map((e) => e.name).filter((n) => !n.startsWith('migrated-'))).to.deep.equal(['good']);
      const refused = r.plan.report.filter((l) => l.startsWith('NOT UNDERSTOOD') && l.includes('not migrated'));
      expect(refused.map((l) => /\/root\/(\w+)\.iptables/.exec(l)?.[1]).sort()).to.deep.equal(['evil', 'open', 'pipe']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('tm3 migrate keeps the address the users were told to knock on', () => {
  it("the old knock.FAQ's public address becomes [server] public_address, and the new knock.FAQ names it", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-migrate-faq-'));
    try {
      fs.cpSync(path.join(LEGACY, 'ubuntu14-ipbx13', 'root'), root, { recursive: true });
      await migrate(await makeContext({ root, quiet: true }), false);
      expect(fs.readFileSync(path.join(root, 'etc/tm3/tm3.conf.d/50-migrated.conf'), 'utf8')).to.match(/\[server\]\npublic_address=198\.51\.100\.200/);
      const faq = fs.readFileSync(path.join(root, 'root/knock.FAQ'), 'utf8');
      expect(faq).to.match(/^How to open the door to 198\.51\.100\.200 /).and.match(/^ {4}Server: {2}198\.51\.100\.200$/m);
      expect(faq).to.include('7113').and.include('8224').and.include('9335');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
