// A distributed attack against the real fail2ban-server: bans that arrive together reach the
// kernel in a few ipset calls (tm3-ban.py batches them), never one process per attacker, and
// both families land in their set. Also the upgrade from the old tm3-ipset action: after a
// `tm3 restart` (a fail2ban reload) every jail bans through tm3-ban.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

const stamp = (d = new Date()) => {
  const p = (n: number) => String(n).padStart(2, '0');
  return `[${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}]`;
};
const failure = (ip: string, k: number) => `${stamp()} NOTICE[4212] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:20${k}@192.0.2.1>' failed for '${ip.includes(':') ? `[${ip}]` : ip}:5060' (callid: c${k}) - No matching endpoint found`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Fail2Ban under a burst of attackers, real fail2ban-server (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let calls: string;
  const f2b = (args: string[]) => lab.exec(lab.server.ns, 'fail2ban-client', ['-c', path.join(lab.root, 'etc/fail2ban'), '-s', path.join(lab.root, 'run/fail2ban/fail2ban.sock'), ...args], { reject: false });
  const banned = async () => new Set([...String((await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout).matchAll(/^add tm3-ban-[46] (\S+)/gm)].map((m) => m[1]));
  /** ipset calls that changed a ban set, as the shim saw them */
  const banCalls = () => fs.readFileSync(calls, 'utf8').split('\n').filter((l) => / restore$| add tm3-ban-/.test(l));

  before(async function () {
    requireLab(this, ['fail2ban-server', 'fail2ban-client']);
    lab = await Lab.create(0);
    lab.writeConfig('', { fail2ban: true });
    // every ipset call fail2ban-server makes (it inherits tm3's PATH) is logged, then run
    const shim = path.join(lab.root, 'shim');
    calls = path.join(lab.root, 'ipset-calls.log');
    fs.mkdirSync(shim);
    fs.writeFileSync(path.join(shim, 'ipset'), `#!/bin/sh\necho "ipset $*" >> ${calls}\nexec /usr/sbin/ipset "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(calls, '');
    const r = await lab.tm3(['restart'], { env: { PATH: `${shim}:${process.env.PATH}` } });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/fail2ban started/);
    await sleep(1500);
  });
  after(async () => { await lab?.destroy(); });

  it('200 attackers failing at once are all banned, IPv4 and IPv6, in a handful of ipset calls', async () => {
    const ips = [...Array.from({ length: 150 }, (_, i) => `203.0.113.${i + 1}`), ...Array.from({ length: 50 }, (_, i) => `2001:db8:bad::${(i + 1).toString(16)}`)];
    const before = banCalls().length;
    fs.appendFileSync(path.join(lab.root, 'var/log/asterisk/full'), `${ips.flatMap((ip) => [0, 1, 2, 3, 4].map((k) => failure(ip, k))).join('\n')}\n`);
    let got = new Set<string>();
    for (let t = Date.now(); Date.now() - t < 60_000 && ips.some((ip) => !got.has(ip)); await sleep(250)) got = await banned();
    expect(ips.filter((ip) => !got.has(ip)), 'not banned').to.deep.equal([]);
    const used = banCalls().length - before;
    // one ipset per attacker would be 200; batching needs one per 20 ms of arrivals
    expect(used, 'ipset calls for 200 bans').to.be.within(1, 20);
  });

  it('after an upgrade from the tm3-ipset action, tm3 restart leaves every jail banning through tm3-ban', async () => {
    // the jail file as tm3 0.2 wrote it: the shell action, named per jail
    const jail = path.join(lab.root, 'etc/fail2ban/jail.d/tm3.local');
    const now = fs.readFileSync(jail, 'utf8');
    fs.writeFileSync(jail, now.replace(/tm3-ban\.py/g, 'tm3-ipset').replace(/action = %\(banaction_allports\)s\n/g, 'action = %(banaction_allports)s[name=old]\n'));
    expect((await f2b(['reload'])).exitCode).to.equal(0);
    expect((await f2b(['get', 'sshd', 'actions'])).stdout, 'the old layout is running').not.to.include('tm3-ban');
    expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    for (const j of ['asterisk', 'sshd', 'recidive']) expect((await f2b(['get', j, 'actions'])).stdout, j).to.match(/tm3-ban\b/);
    await f2b(['set', 'sshd', 'banip', '198.51.100.77']);
    let got = new Set<string>();
    for (let t = Date.now(); Date.now() - t < 5000 && !got.has('198.51.100.77'); await sleep(100)) got = await banned();
    expect([...got]).to.include('198.51.100.77');
  });
});
