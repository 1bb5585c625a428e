import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

// The bin (src/cli/tm3.ts) answers a bare --version before loading the program; for every
// argument list it must say exactly what the program (main.ts) says.
describe('tm3 bin entry', () => {
  const src = (f: string) => fileURLToPath(new URL(`../../src/cli/${f}`, import.meta.url));
  const run = (file: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', src(file), ...args], { encoding: 'utf8', env: { ...process.env, TM3_NO_SYSLOG: '1' } });

  it('answers --version like the program, with or without --root/--quiet, and hands everything else over', () => {
    const cases = [['--version'], ['-V'], ['--root', '/nonexistent-tm3', '--version'], ['--root=/nonexistent-tm3', '-V'], ['-q', '--version'], ['--root', '--version'], ['--version', 'extra'], ['--help'], ['no-such-command']];
    for (const args of cases) {
      const fast = run('tm3.ts', args);
      const full = run('main.ts', args);
      expect({ out: fast.stdout, err: fast.stderr, code: fast.status }, args.join(' ')).to.deep.equal({ out: full.stdout, err: full.stderr, code: full.status });
    }
    expect(run('tm3.ts', ['--version']).stdout).to.match(/^\d+\.\d+\.\d+\n$/);
  });

  it('answers list and list --json (list-fast.ts) exactly like the program, and hands every other shape over', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-listfast-'));
    try {
      const store = path.join(root, 'root');
      fs.mkdirSync(store, { recursive: true, mode: 0o755 });
      fs.writeFileSync(path.join(store, 'desk.iptables'), '[entry]\naddress=198.51.100.7\nservices=sip\nsource=admin\nadded=2026-01-01T00:00:00.000Z\n', { mode: 0o600 });
      fs.writeFileSync(path.join(store, 'v6only.iptables'), '[entry]\nhost=pbx.example.net\nfamily=6\nservices=all\nsource=admin\nadded=2026-01-01T00:00:00.000Z\n', { mode: 0o600 });
      fs.writeFileSync(path.join(store, 'bad.iptables'), 'garbage\n', { mode: 0o600 });
      const cases = [
        ['--root', root, 'list'], ['--root', root, 'list', '--json'], ['-q', '--root', root, 'list'], [`--root=${root}`, 'list', '--json'],
        ['--root', '/nonexistent-tm3', 'list'], ['--root', root, 'list', '--json', 'extra'], ['--root', root, 'list', '198.51.100.7'],
        ['list', '--root', root], ['--root', root, '--root', root, 'list'], ['--root', 'list'], ['--root', root, 'list', '--help'], ['--root', root, 'list', '--json', '--json'],
      ];
      for (const args of cases) {
        const fast = run('tm3.ts', args);
        const full = run('main.ts', args);
        expect({ out: fast.stdout, err: fast.stderr, code: fast.status }, args.join(' ')).to.deep.equal({ out: full.stdout, err: full.stderr, code: full.status });
      }
      // the control: the cases say something (two entries listed, the bad file named)
      const listed = run('tm3.ts', ['--root', root, 'list', '--json']);
      expect(JSON.parse(listed.stdout).map((e: { name: string }) => e.name)).to.deep.equal(['desk', 'v6only']);
      expect(listed.stderr).to.match(/skipped bad\.iptables/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
