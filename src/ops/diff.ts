import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../apply/run.js';

/** A unified diff of a file's text now and as tm3 would write it, for --dry-run. */
export async function fileDiff(file: string, now: string | undefined, planned: string): Promise<string> {
  if (now === undefined) return `would create ${file}:\n${planned}`;
  // diff reads both sides from a scratch directory outside the root: nothing under the root is touched
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tm3-diff-'));
  try {
    await fs.writeFile(path.join(dir, 'now'), now);
    await fs.writeFile(path.join(dir, 'tm3'), planned);
    const r = await run('diff', ['-u', '--label', `${file} (now)`, '--label', `${file} (tm3)`, path.join(dir, 'now'), path.join(dir, 'tm3')], { allowFail: true });
    return `would change ${file}:\n${r.stdout}`;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
