import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';
import { DIST } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

// Issue 14, scenarios 1 and 4, on what users boot: a Debian 12 guest with systemd as pid 1 under
// systemd-nspawn, in network namespaces this test makes (guest 192.0.2.10, client 192.0.2.20).
// tm3 goes in as users get it (the npm tarball through npx, offline), then the guest is power
// cycled: nspawn exits, the namespace is made again (netfilter empty), and it boots. The image is
// built once and cached under /var/cache/tm3/guest (scripts/guest/build-rootfs.sh).

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CTL = path.join(REPO, 'scripts/guest/guestctl.sh');
const NAME = `tm3boot-${process.pid}`;
const GUEST = '192.0.2.10';
// the admin entry is an address the client does not have: the client is a stranger until it knocks
const ADMIN = '192.0.2.99';

const ctl = (...args: string[]) => execa('bash', [CTL, ...args], { reject: false, stdin: 'ignore' });
/** A command in the guest as a unit of its own systemd (its capabilities, a clean environment). */
async function inGuest(cmd: string, timeoutSec = 120) {
  const leader = (await execa('bash', ['-c', `for c in $(pgrep -P "$(cat /var/cache/tm3/guest/run/${NAME}/nspawn.pid)"); do [ "$(cat /proc/$c/comm)" = systemd ] && echo $c; done | head -1`])).stdout.trim();
  return execa('nsenter', ['-t', leader, '-a', 'systemd-run', '--quiet', '--wait', '--pipe', '--collect', `--property=RuntimeMaxSec=${timeoutSec}`, '-E', 'HOME=/root', '-E', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--', 'sh', '-c', cmd], { reject: false, stdin: 'ignore' });
}
/** Power cycle: poweroff, a fresh namespace (netfilter empty, as after power loss), boot. */
async function powerCycle() {
  await inGuest('systemctl poweroff --no-block');
  expect((await ctl('wait-exit', NAME)).stdout.trim()).to.equal('0');
  expect((await ctl('net-up', NAME)).exitCode).to.equal(0);
  const boot = await ctl('boot', NAME);
  expect(boot.exitCode, boot.stderr).to.equal(0);
  return boot.stdout.trim();
}

describe('a real boot: tm3 installed on a Debian 12 guest with systemd as pid 1 (nspawn)', function () {
  this.timeout(900_000);
  let dir: string;

  before(async function () {
    requireLab(this, ['systemd-nspawn', 'debootstrap', 'nsenter', 'npm']);
    // guests of a test run that died (kill -9, a crashed CI job): stopped, unmounted, their namespaces gone
    for (const d of fs.existsSync('/var/cache/tm3/guest/run') ? fs.readdirSync('/var/cache/tm3/guest/run') : []) {
      const pid = Number(/^tm3boot-(\d+)$/.exec(d)?.[1]);
      let alive = false;
      try { if (pid) { process.kill(pid, 0); alive = true; } } catch { /* gone */ }
      if (pid && !alive) await ctl('destroy', d);
    }
    const t = Date.now();
    const build = await execa('bash', [path.join(REPO, 'scripts/guest/build-rootfs.sh')], { reject: false, stdin: 'ignore', timeout: 900_000 });
    // a broken image build is a failure, never a skip (it names apt's own error)
    expect(build.exitCode, `scripts/guest/build-rootfs.sh failed:\n${build.stdout.slice(-2000)}\n${build.stderr.slice(-2000)}`).to.equal(0);
    console.log(`      guest image ready in ${((Date.now() - t) / 1000).toFixed(1)} s (${/rootfs cached/.test(build.stdout) ? 'cached' : 'built'})`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-boot-'));
    const pack = await execa('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, reject: false });
    expect(pack.exitCode, pack.stderr).to.equal(0);
    for (const step of [['net-up', NAME], ['copy', NAME]]) expect((await ctl(...step)).exitCode, step.join(' ')).to.equal(0);
    const tgz = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    fs.copyFileSync(path.join(dir, tgz), path.join('/var/cache/tm3/guest/run', NAME, 'root/root/tm3-install.tgz'));
    const boot = await ctl('boot', NAME);
    expect(boot.exitCode, boot.stderr).to.equal(0);
  });
  after(async () => {
    await ctl('destroy', NAME);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('1. installs from the tarball with npx offline, and after a power cycle every unit is up, nothing failed, doctor is healthy, and a knock opens the door', async () => {
    const install = await inGuest(`cd /root && npx --yes --offline ./tm3-install.tgz --yes --no-packages --admin-ip ${ADMIN} --no-public-ip --interface eth0 --apply`, 600);
    expect(install.exitCode, `${install.stdout}\n${install.stderr}`).to.equal(0);
    const seq = JSON.parse((await inGuest('tm3 knock status --json')).stdout).sequence as number[];
    expect(seq).to.have.length(3);

    const state = await powerCycle();
    expect(state, 'systemctl is-system-running after the power cycle').to.equal('running');
    const units = ['netfilter-persistent.service', 'tm3-firewall.service', 'tm3-refresh.timer', 'knockd.service', 'fail2ban.service'];
    expect((await inGuest(`systemctl is-enabled ${units.join(' ')}`)).stdout.split('\n')).to.deep.equal(units.map(() => 'enabled'));
    expect((await inGuest(`systemctl is-active ${units.join(' ')}`)).stdout.split('\n')).to.deep.equal(units.map(() => 'active'));
    expect((await inGuest('systemctl --failed --plain --no-legend')).stdout.trim()).to.equal('');
    const verify = await inGuest('systemd-analyze verify /etc/systemd/system/tm3-firewall.service /etc/systemd/system/tm3-refresh.timer /etc/systemd/system/tm3-refresh.service 2>&1');
    expect(verify.stdout.trim(), 'systemd-analyze verify').to.equal('');
    const doctor = await inGuest('tm3 doctor');
    expect(doctor.exitCode, `${doctor.stdout}\n${doctor.stderr}`).to.equal(0);

    // the client (192.0.2.20, not whitelisted): closed to sshd until it knocks the installed sequence
    const probe = (port: number) => execa('ip', ['netns', 'exec', `${NAME}-c`, process.execPath, path.join(DIST, 'lab/probe.js'), '800', JSON.stringify([{ proto: 'tcp', host: GUEST, port }])]).then((r) => JSON.parse(r.stdout)[0] as string);
    expect(await probe(22), 'tcp/22 before the knock').to.equal('timeout');
    await execa('ip', ['netns', 'exec', `${NAME}-c`, process.execPath, path.join(DIST, 'lab/probe.js'), 'knock', GUEST, seq.join(',')]);
    let open = '';
    for (const t0 = Date.now(); Date.now() - t0 < 3000 && open !== 'open' && open !== 'refused';) open = await probe(22);
    expect(open, 'tcp/22 after the knock').to.be.oneOf(['open', 'refused']);
  });

  it('4. a corrupt rules.v4 at boot: netfilter-persistent fails, the failsafe closes the box, the journal has the crit line, and tm3 restart mends it', async () => {
    expect((await inGuest("printf '*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -j NO-SUCH-CHAIN\\nCOMMIT\\n' > /etc/iptables/rules.v4")).exitCode).to.equal(0);
    expect(await powerCycle()).to.equal('degraded'); // netfilter-persistent failed, on purpose
    expect((await inGuest('systemctl --failed --plain --no-legend')).stdout).to.match(/netfilter-persistent\.service/);
    expect((await inGuest('systemctl is-active tm3-firewall.service')).stdout.trim()).to.equal('active');
    expect((await inGuest('iptables -S INPUT')).stdout).to.match(/^-P INPUT DROP/m);
    expect((await inGuest('ip6tables -S INPUT')).stdout).to.match(/^-P INPUT DROP/m);
    expect((await inGuest('journalctl -b -p crit --no-pager -o cat')).stdout).to.match(/the firewall was not up after netfilter-persistent; loading tm3's own closed ruleset/);
    const probe = await execa('ip', ['netns', 'exec', `${NAME}-c`, process.execPath, path.join(DIST, 'lab/probe.js'), '800', JSON.stringify([{ proto: 'tcp', host: GUEST, port: 22 }, { proto: 'udp', host: GUEST, port: 5060 }])]);
    expect(JSON.parse(probe.stdout), 'a stranger after the failed boot').to.deep.equal(['timeout', 'timeout']);
    const restart = await inGuest('tm3 restart');
    expect(restart.exitCode, `${restart.stdout}\n${restart.stderr}`).to.equal(0);
    expect((await inGuest('tm3 doctor')).exitCode).to.equal(0);
  });
});
