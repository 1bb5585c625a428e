import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runCustomScript } from '../../src/apply/system.js';
import { ADMIN_BEGIN, ADMIN_END } from '../../src/plan/admin-section.js';

// restart names each failing ADMIN SECTION line with its error. The script runs under the real
// sh (dash on Debian), with commands that need no root: the markers must find the failing
// lines, and must not change what the admin's shell does (status, continuations, here-docs).
describe('ADMIN SECTION failures are named by line', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-admin-trace-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = async (body: string) => {
    const file = path.join(dir, 'iptables-custom');
    fs.writeFileSync(file, `#!/bin/sh\nrc=0\n: tm3 part\n${ADMIN_BEGIN}\n${body}${ADMIN_END}\nexit $rc\n`);
    return { r: await runCustomScript(file), first: 5 };
  };

  it('names the failing lines with their own error, not the lines that worked', async () => {
    const { r, first } = await run([
      'true',
      'ls /nonexistent-tm3-dir',
      '# a comment',
      'false || true',
      'ls /nonexistent-tm3-2 2>/dev/null || ls /nonexistent-tm3-3',
      '',
    ].join('\n'));
    expect(r.ok).to.equal(true); // tm3's own part worked
    expect(r.failures.map((f) => f.line)).to.deep.equal([first + 1, first + 4]);
    expect(r.failures[0].text).to.equal('ls /nonexistent-tm3-dir');
    expect(r.failures[0].error).to.match(/cannot access '\/nonexistent-tm3-dir': No such file or directory/);
    expect(r.failures[1].error).to.match(/nonexistent-tm3-3/).and.not.match(/nonexistent-tm3-2/);
    expect(r.output).to.not.match(/tm3-admin-/);
  });

  it('keeps $?, $0, continuations, if blocks, functions and here-docs as the shell means them', async () => {
    const out = path.join(dir, 'out');
    const { r, first } = await run([
      'false',
      `[ $? -ne 0 ] && echo kept-status >> ${out}`,
      `echo one \\`,
      `  two >> ${out}`,
      'if true; then',
      `  echo in-if >> ${out}`,
      '  false',
      'fi',
      `cat >> ${out} <<EOF`,
      'true',
      'EOF',
      'f() {',
      `  echo in-f >> ${out}`,
      '}',
      'f',
      `echo "$0" >> ${out}`,
      '',
    ].join('\n'));
    // $0 too: a line that sources a file beside the script finds it
    expect(fs.readFileSync(out, 'utf8')).to.equal(`kept-status\none two\nin-if\ntrue\nin-f\n${path.join(dir, 'iptables-custom')}\n`);
    // `false` fails (line 1), and the if block whose last command failed is named by its first line
    expect(r.failures.map((f) => [f.line, f.text])).to.deep.equal([[first, 'false'], [first + 4, 'if true; then']]);
    expect(r.failures[0].error).to.equal('exit status 1');
  });

  it('a script without an ADMIN SECTION runs as before', async () => {
    const file = path.join(dir, 'plain');
    fs.writeFileSync(file, '#!/bin/sh\nls /nonexistent-tm3-4\nexit 0\n');
    const r = await runCustomScript(file);
    expect(r.ok).to.equal(true);
    expect(r.failures).to.deep.equal([]);
  });
});
