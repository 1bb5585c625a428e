import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';

// A terminal that goes away often shows first as the end of input and only then as SIGHUP.
// The "no" that the end of input gives must not leave the SIGHUP that follows to Node's default
// (death), or the caller's rollback never runs and the forced cut stays in force.

const GUARD_TS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/installer/guard.ts');

describe('confirmWithin: a hang-up during the prompt', () => {
  it('the end of input, then a SIGHUP a moment later: the answer is "no" and the rollback after it still runs', async () => {
    const code = `import { confirmWithin } from '${GUARD_TS}';
      const yes = await confirmWithin(30, 'Still there?');
      console.log('answer=' + yes);
      await new Promise((r) => setTimeout(r, 600)); // the rollback, during which the SIGHUP lands
      console.log('rolled back');`;
    const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { reject: false });
    let seen = '';
    await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => { seen += d.toString(); if (seen.includes('Type "yes"')) resolve(); }));
    child.stdin?.end();
    await new Promise<void>((resolve) => child.stdout?.on('data', () => { if (seen.includes('answer=')) resolve(); }));
    child.kill('SIGHUP');
    const r = await child;
    expect(r.signal, `killed before its rollback: ${r.stdout}`).to.equal(undefined);
    expect(r.stdout).to.include('answer=false');
    expect(r.stdout).to.include('rolled back');
    expect(r.exitCode).to.equal(0);
  });

  it('a SIGHUP first: the answer is "no" and a second SIGHUP does not stop the rollback either', async () => {
    const code = `import { confirmWithin } from '${GUARD_TS}';
      const yes = await confirmWithin(30, 'Still there?');
      console.log('answer=' + yes);
      await new Promise((r) => setTimeout(r, 600));
      console.log('rolled back');`;
    const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { reject: false });
    let seen = '';
    await new Promise<void>((resolve) => child.stdout?.on('data', (d: Buffer) => { seen += d.toString(); if (seen.includes('Type "yes"')) resolve(); }));
    child.kill('SIGHUP');
    await new Promise<void>((resolve) => child.stdout?.on('data', () => { if (seen.includes('answer=')) resolve(); }));
    child.kill('SIGHUP');
    const r = await child;
    expect(r.signal, `killed before its rollback: ${r.stdout}`).to.equal(undefined);
    expect(r.stdout).to.match(/answer=false[\s\S]*rolled back/);
  });
});
