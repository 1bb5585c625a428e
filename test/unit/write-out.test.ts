import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';

// Everything tm3 prints goes through writeOut (straight to descriptor 1): a reader that goes
// away must not stop a command halfway, and a slow reader must get every byte, in order.

const OUTPUT_TS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/output.ts');
const big = (marker: string) => `import fs from 'node:fs';
  import { writeOut } from '${OUTPUT_TS}';
  for (let i = 0; i < 20000; i++) writeOut('line ' + i + ' ' + 'x'.repeat(40) + '\\n');
  fs.writeFileSync('${marker}', 'went on');`;

describe('writeOut: tm3 output straight to its descriptor', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-out-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a reader that goes away after one line (| head -1): no error, exit 0, and the command goes on to its end', async () => {
    const marker = path.join(dir, 'marker');
    const r = await execa('sh', ['-c', '{ "$0" --import tsx --input-type=module -e "$1"; echo "exit=$?" >&2; } | head -1', process.execPath, big(marker)], { reject: false });
    expect(r.stdout).to.match(/^line 0 x+$/);
    expect(r.stderr, 'nothing said about the pipe, and exit 0').to.equal('exit=0');
    expect(fs.readFileSync(marker, 'utf8'), 'the rest of the command ran').to.equal('went on');
  });

  it('a reader that reads slowly gets every byte in order (about 1 MB through a 64 KiB pipe)', async () => {
    const marker = path.join(dir, 'marker');
    const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', big(marker)], { reject: false, buffer: false });
    const chunks: Buffer[] = [];
    for await (const chunk of child.stdout!) {
      chunks.push(chunk as Buffer);
      if (chunks.length % 8 === 0) await new Promise((r) => setTimeout(r, 5)); // let the pipe fill
    }
    const r = await child;
    expect(r.exitCode).to.equal(0);
    const lines = Buffer.concat(chunks).toString().split('\n');
    expect(lines.length).to.equal(20001);
    expect(lines.every((l, i) => i === 20000 ? l === '' : l === `line ${i} ${'x'.repeat(40)}`)).to.equal(true);
    expect(fs.readFileSync(marker, 'utf8')).to.equal('went on');
  });
});
