import { spawnSync } from 'node:child_process';
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
});
