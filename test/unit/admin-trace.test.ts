import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runCustomScript } from '../../src/apply/system.js';
import { ADMIN_BEGIN, ADMIN_END } from '../../src/plan/admin-section.js';
import { ADMIN_TRACE_MARK } from '../../src/plan/admin-trace.js';

// restart names each failing ADMIN SECTION line with its error. The script runs under the real
// sh (dash on Debian), with commands that need no root: the trace must find the failing
// lines, and the run must be the boot's own (status, continuations, here-docs, set -e).
describe('ADMIN SECTION failures are named by line', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-admin-trace-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = async (body: string) => {
    const file = path.join(dir, 'iptables-custom');
    fs.writeFileSync(file, `#!/bin/sh\nrc=0\n: tm3 part\n${ADMIN_TRACE_MARK}\n${ADMIN_BEGIN}\n${body}${ADMIN_END}\nexit $rc\n`);
    return { r: await runCustomScript(file), first: 6 };
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

  it('runs the file exactly as the boot does: $?, $0, continuations, if blocks, functions, here-docs (<<\\EOF too), set -e', async () => {
    const out = path.join(dir, 'out');
    const body = [
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
      `cat >> ${out} <<\\EOF`,
      '$HOME stays literal',
      'EOF',
      'f() {',
      `  echo in-f >> ${out}`,
      '}',
      'f',
      `echo "$0" >> ${out}`,
      'set -e',
      '[ -f /nonexistent-tm3-5 ] && echo never',
      `echo after-set-e >> ${out}`,
      '',
    ].join('\n');
    const { r } = await run(body);
    const file = path.join(dir, 'iptables-custom');
    fs.rmSync(out, { force: true });
    // the same file under plain sh, as at boot: the same result, byte for byte
    const { execa } = await import('execa');
    await execa('sh', [file], { reject: false });
    const boot = fs.readFileSync(out, 'utf8');
    expect(boot).to.equal(`kept-status\none two\nin-if\ntrue\n$HOME stays literal\nin-f\n${file}\nafter-set-e\n`);
    // a failure without a word on stderr is not reported (no ERR trap in dash); nothing is invented
    expect(r.failures).to.deep.equal([]);
  });

  it('a NUL byte, or a section too long for one argument, still runs and is still named', async () => {
    const lines = Array.from({ length: 3600 }, (_, i) => `echo r${i} >/dev/null`);
    const { r, first } = await run(`# pasted \0 junk\n${lines.join('\n')}\nls /nonexistent-tm3-6\n`);
    expect(r.failures.map((f) => f.line)).to.deep.equal([first + 3601]);
    expect(r.failures[0].error).to.match(/nonexistent-tm3-6/);
  });

  it('a command through a variable is matched to its line', async () => {
    const { r, first } = await run('LS=/bin/ls\n$LS -d /tmp /nonexistent-tm3-7 >/dev/null\n');
    expect(r.failures.map((f) => [f.line, f.text])).to.deep.equal([[first + 1, '$LS -d /tmp /nonexistent-tm3-7 >/dev/null']]);
  });

  it('a script without an ADMIN SECTION runs as before', async () => {
    const file = path.join(dir, 'plain');
    fs.writeFileSync(file, '#!/bin/sh\nls /nonexistent-tm3-4\nexit 0\n');
    const r = await runCustomScript(file);
    expect(r.ok).to.equal(true);
    expect(r.failures).to.deep.equal([]);
  });
});
