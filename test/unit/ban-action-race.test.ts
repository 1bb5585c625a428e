import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { render } from '../../src/plan/render.js';

// tm3-ban.py, run by the Python that has Fail2Ban (skipped where there is none): one jail's unban
// racing another jail's ban of the same address must leave the longer ban in the kernel.
const PY = '/usr/bin/python3';
const hasFail2ban = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import fail2ban.server.action']).status === 0;

describe('tm3-ban.py: jails sharing a set (red team)', () => {
  (hasFail2ban ? it : it.skip)('a busy jail\'s unban never deletes the ban another jail just added', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-ban-'));
    try {
      fs.writeFileSync(path.join(dir, 'tm3-ban.py'), render('fail2ban-ban-action.py', { version: 'test' }));
      const script = fileURLToPath(new URL('../fixtures/fail2ban/ban-race.py', import.meta.url));
      const r = spawnSync(PY, [script, path.join(dir, 'tm3-ban.py')], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.trim()).to.equal('add tm3-ban-4 192.0.2.7 timeout 604800');
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
