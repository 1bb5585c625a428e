import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { ADMIN_BEGIN, ADMIN_END } from '../../src/plan/admin-section.js';

// tm3 restart names failing ADMIN SECTION lines, but it must run the section exactly as the boot
// does. A design that rewrites the admin's text to find the lines (markers before each command)
// broke each of these in a red-team pass: the admin's DROP for a whitelisted client was not in
// force after tm3 restart, while the boot applied it. Here each must be in force, with a real packet.
describe('ADMIN SECTION under tm3 restart runs as at boot (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  let custom: string;
  let good: string;

  before(async function () {
    requireLab(this);
    lab = await Lab.create(1);
    lab.writeConfig();
    expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    await lab.startResponder();
    expect((await lab.tm3(['add-ip', 'c1', lab.clients[0].v4, '--services', 'ssh'])).exitCode).to.equal(0);
    custom = path.join(lab.root, 'usr/local/sbin/iptables-custom');
    good = fs.readFileSync(custom, 'utf8');
  });
  after(async () => {
    if (good) fs.writeFileSync(custom, good);
    await lab?.destroy();
  });

  const restartWith = async (body: string) => {
    const start = good.indexOf(`${ADMIN_BEGIN}\n`) + ADMIN_BEGIN.length + 1;
    fs.writeFileSync(custom, good.slice(0, start) + body.replace(/CLIENT/g, lab.clients[0].v4) + good.slice(good.indexOf(ADMIN_END)));
    return lab.tm3(['restart']);
  };
  const DROP = 'iptables -I INPUT -s CLIENT -p tcp --dport 22 -j DROP';

  for (const [name, body] of [
    ['a here-doc with a quoted delimiter (<<\\EOF)', `iptables-restore -n <<\\EOF\n*filter\n-I INPUT -s CLIENT -p tcp --dport 22 -j DROP\nCOMMIT\nEOF\n`],
    ['set -e, then a test && command line that is false', `set -e\n[ -f /nonexistent-tm3 ] && echo x\n${DROP}\n`],
    ['a section of 87 KB (too long for one argument once rewritten)', `${Array.from({ length: 3600 }, (_, i) => `echo r${i} >/dev/null`).join('\n')}\n${DROP}\n`],
    ['a NUL byte in a comment', `# pasted \u0000 junk\n${DROP}\n`],
  ]) {
    it(`${name}: the admin's DROP is in force after tm3 restart, and no line is said to fail`, async () => {
      expect(await lab.reaches(lab.clients[0], 'tcp', 22), 'whitelisted before').to.equal(true);
      const r = await restartWith(body);
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(r.stderr).not.to.match(/ADMIN SECTION line/);
      expect(await lab.reaches(lab.clients[0], 'tcp', 22)).to.equal(false);
      // back to an empty section: restart rebuilds INPUT, so the client is in again
      const back = await restartWith('');
      expect(back.exitCode, back.stderr).to.equal(0);
    });
  }

  it('a failing line is named (line, text, error) and the DROP after it is in force', async () => {
    const r = await restartWith(`IPT=/sbin/iptables\n$IPT -A INPUT -s 203.0.113.300 -j ACCEPT\n${DROP}\n`);
    expect(r.exitCode).to.equal(1);
    const line = good.slice(0, good.indexOf(`${ADMIN_BEGIN}\n`)).split('\n').length + 2;
    expect(r.stderr).to.match(new RegExp(`ADMIN SECTION line ${line} of /usr/local/sbin/iptables-custom failed: \\$IPT -A INPUT -s 203\\.0\\.113\\.300 -j ACCEPT: .*not found`));
    expect(await lab.reaches(lab.clients[0], 'tcp', 22)).to.equal(false);
    expect((await restartWith('')).exitCode).to.equal(0);
  });
});
