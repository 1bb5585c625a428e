import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { requireLab } from './prereq.js';
import { Guest, GUEST4, GUEST6, REPO, ensureImage, packTarball, reapDeadGuests } from './helpers/guest.js';

// Issue 14 on what users boot: a Debian 12 guest with systemd as pid 1 under systemd-nspawn, in
// network namespaces this test makes. The guest configures its own eth0 (ifupdown, or networkd in
// scenario 3) after netfilter-persistent, as a real box does. tm3 goes in as users get it (the npm
// tarball through npx, offline). A power cycle is: nspawn exits, the guest's namespace is made
// again (netfilter empty), and it boots; the client side (addresses on a bridge) lives on.
// The image is built once and cached under /var/cache/tm3/guest (scripts/guest/build-rootfs.sh).

const ADMIN4 = '192.0.2.21';
const ADMIN6 = '2001:db8::21';
const OFFICE4 = '192.0.2.22';
const OFFICE6 = '2001:db8::22';
const PHONE4 = '192.0.2.23';
const PHONE6 = '2001:db8::23';
const OLD4 = '192.0.2.31'; // where moving.example.test pointed before the power cut
const NEW4 = '192.0.2.32'; // and where it points now
const STRANGER4 = '192.0.2.66';
const STRANGER6 = '2001:db8::66';
const units = ['netfilter-persistent.service', 'tm3-firewall.service', 'tm3-refresh.timer', 'knockd.service', 'fail2ban.service'];
const ssh = (local: string) => ({ proto: 'tcp' as const, host: local.includes(':') ? GUEST6 : GUEST4, port: 22, local });
const installCmd = (tgz: string) => `cd /root && npx --yes --offline ./${tgz} --yes --no-packages --admin-ip ${ADMIN4} --admin-ip ${ADMIN6} --no-public-ip --interface eth0 --apply`;

async function installFresh(g: Guest, dir: string, more: Record<string, string> = {}) {
  await g.must('net-up', g.name);
  await g.must('copy', g.name);
  // into the copy before it boots: nothing in the guest can have planted a link there yet
  for (const [name, file] of Object.entries({ 'tm3-install.tgz': await packTarball(dir), ...more })) fs.copyFileSync(file, path.join(g.root, 'root', name));
  await g.must('boot', g.name);
  await g.must('client-addr', g.name, ...[ADMIN4, OFFICE4, PHONE4, OLD4, NEW4, STRANGER4].map((a) => `${a}/24`), ...[ADMIN6, OFFICE6, PHONE6, STRANGER6].map((a) => `${a}/64`));
}

describe('a real boot: tm3 installed on a Debian 12 guest with systemd as pid 1 (nspawn)', function () {
  this.timeout(900_000);
  const g = new Guest(`tm3boot-${process.pid}`);
  let dir: string;

  before(async function () {
    requireLab(this, ['systemd-nspawn', 'debootstrap', 'nsenter', 'npm', 'dnsmasq', 'python3', 'fwknop']);
    await reapDeadGuests();
    await ensureImage();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-boot-'));
    await installFresh(g, dir);
  });
  after(async () => {
    await g.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('1. installs from the tarball with npx offline, and after a power cycle every unit is up (fwknopd too, once a traveller has SPA keys), nothing failed, doctor is healthy, an SPA packet and a knock open the door', async () => {
    // a stock bookworm without rsyslog: fail2ban's sshd jail has no log file, so it fails until tm3's jail
    // (a simple service: active from its start until fail2ban-server gives up, later on a busy host)
    expect((await g.exec('for i in $(seq 300); do s=$(systemctl is-failed fail2ban.service); case $s in active|activating|deactivating) sleep 0.1 ;; *) break ;; esac; done; echo "$s"')).stdout.trim(), 'fail2ban before tm3').to.equal('failed');
    await g.ok(installCmd('tm3-install.tgz'), 600);
    const seq = JSON.parse(await g.ok('tm3 knock status --json')).sequence as number[];
    expect(seq).to.have.length(3);
    // a traveller with SPA keys: from then on fwknopd (Debian's fwknop-server) must come up at boot too
    await g.ok('tm3 user add alice --services ssh');
    const card = await g.ok('cat /root/tm3-users/alice.FAQ');
    const keys = /--key-base64-rijndael (\S+) --key-base64-hmac (\S+)/.exec(card);
    expect(keys, card).to.not.equal(null);

    expect(await g.cycle(), 'systemctl is-system-running after the power cycle').to.equal('running');
    const all = [...units, 'fwknop-server.service'];
    expect((await g.exec(`systemctl is-enabled ${all.join(' ')}`)).stdout.split('\n')).to.deep.equal(all.map(() => 'enabled'));
    expect((await g.exec(`systemctl is-active ${all.join(' ')}`)).stdout.split('\n')).to.deep.equal(all.map(() => 'active'));

    // alice's SPA packet after the reboot opens tcp/22 to her address, through tm3's sets only
    const ssh4 = { proto: 'tcp' as const, host: GUEST4, port: 22 };
    expect((await g.probe([ssh4]))[0], 'tcp/22 before the SPA packet').to.equal('timeout');
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-spa-'));
    try {
      const spa = await execa('ip', ['netns', 'exec', `${g.name}-c`, 'env', `HOME=${home}`, 'fwknop', '-A', 'tcp/22', '-a', '192.0.2.20', '-D', GUEST4, '--key-base64-rijndael', keys![1], '--key-base64-hmac', keys![2], '--use-hmac', '--no-save-args'], { reject: false });
      expect(spa.exitCode, `fwknop: ${spa.stdout}\n${spa.stderr}`).to.equal(0);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
    expect(await g.probeUntil(ssh4, ['open', 'refused'], 5000), 'tcp/22 after alice\'s SPA packet').to.be.oneOf(['open', 'refused']);
    expect(await g.ok('iptables -S'), 'fwknopd added no rule of its own').not.to.match(/FWKNOP/);
    await g.ok('tm3 knock revoke --all');
    expect((await g.probe([ssh4]))[0], 'tcp/22 after knock revoke --all').to.equal('timeout');
    expect((await g.exec('systemctl --failed --plain --no-legend')).stdout.trim()).to.equal('');
    const verify = await g.exec('systemd-analyze verify /etc/systemd/system/tm3-firewall.service /etc/systemd/system/tm3-refresh.timer /etc/systemd/system/tm3-refresh.service 2>&1');
    expect(verify.stdout.trim(), 'systemd-analyze verify').to.equal('');
    await g.ok('tm3 doctor');

    // the client's first address (192.0.2.20, not whitelisted): closed to sshd until it knocks the installed sequence
    expect((await g.probe([{ proto: 'tcp', host: GUEST4, port: 22 }]))[0], 'tcp/22 before the knock').to.equal('timeout');
    await g.knock(seq);
    expect(await g.probeUntil({ proto: 'tcp', host: GUEST4, port: 22 }, ['open', 'refused'], 3000), 'tcp/22 after the knock').to.be.oneOf(['open', 'refused']);
  });

  it('2. DNS down across a reboot: strangers probing every 25 ms get no answer at all, and the admin, an IP entry and a name at its last good address get in', async () => {
    await g.startDns({ 'phone.example.test': [PHONE4, PHONE6] });
    await g.ok(`tm3 add-ip office ${OFFICE4} --services ssh && tm3 add-ip office6 ${OFFICE6} --services ssh && tm3 add-fqdn phone phone.example.test --services ssh`);
    const everyone = [ADMIN4, ADMIN6, OFFICE4, OFFICE6, PHONE4, PHONE6];
    expect(await g.probe(everyone.map(ssh)), 'before the reboot').to.deep.equal(everyone.map(() => 'open'));

    const watch = execa('ip', ['netns', 'exec', `${g.name}-c`, 'python3', path.join(REPO, 'test/integration/helpers/boot-watch.py'), JSON.stringify({
      server4: GUEST4, server6: GUEST6, strangers: [STRANGER4, STRANGER6], admins: [ADMIN4, ADMIN6],
      targets: [['tcp', 22], ['tcp', 5060], ['udp', 5060], ['udp', 4569], ['icmp', 0]], every: 0.025,
    })], { reject: false, stdin: 'ignore', buffer: true });
    await new Promise<void>((resolve, reject) => {
      watch.stdout!.once('data', () => resolve());
      void watch.then((r) => reject(new Error(`boot-watch.py died: ${String(r.stderr).slice(-1500)}`)));
    });
    await new Promise((r) => setTimeout(r, 1000)); // the admin's answers before the reboot
    await g.stopDns();
    const tReboot = Date.now() / 1000;
    const state = await g.cycle('reboot');
    const tUp = Date.now() / 1000;
    await new Promise((r) => setTimeout(r, 30_000));
    watch.kill('SIGTERM');
    const out = JSON.parse((await watch).stdout.split('\n').filter(Boolean).pop()!) as { sent: number; dropped: number; strangerAnswers: unknown[]; strangerAnswerCount: number; admin: Record<string, { times: number[]; kinds: string[] }> };

    expect(state, 'is-system-running after the reboot').to.equal('running');
    expect(out.sent, 'probes sent (5 kinds x 4 addresses every 25 ms for 30 s and more)').to.be.above(10_000);
    expect(out.dropped, 'frames the packet socket lost (an answer could hide among them)').to.equal(0);
    expect(out.strangerAnswers, `answers to strangers (${out.strangerAnswerCount})`).to.deep.equal([]);
    for (const [addr, { times, kinds }] of Object.entries(out.admin)) {
      // the control: the watch saw every kind of answer a stranger could have got (SYN-ACK, RST,
      // port unreachable, echo reply)
      const v6 = addr.includes(':');
      expect(kinds, `answers the watch saw for the admin ${addr}`).to.include.members(['tcp 22 flags=0x12', 'tcp 5060 flags=0x14', ...(v6 ? ['icmp6 type=1', 'icmp6 type=129'] : ['icmp type=3', 'icmp type=0'])]);
      const before = times.filter((t) => t < tReboot);
      const after = times.filter((t) => t > tUp);
      expect(before.length, `${addr} answered before the reboot`).to.be.above(0);
      expect(after.length, `${addr} answered after the boot`).to.be.above(0);
      const gap = after[0] - before[before.length - 1];
      console.log(`      admin ${addr}: gap across the reboot ${gap.toFixed(2)} s (reboot to boot ${(tUp - tReboot).toFixed(2)} s, first answer ${(after[0] - tUp).toFixed(2)} s after)`);
    }
    // DNS is still down: the office and the phone's last good addresses are in, a stranger is not
    expect(await g.probe([...everyone.map(ssh), ssh(STRANGER4), ssh(STRANGER6)]), 'after the reboot, DNS down').to.deep.equal([...everyone.map(() => 'open'), 'timeout', 'timeout']);
    expect((await g.exec('systemctl --failed --plain --no-legend')).stdout.trim(), 'failed units with DNS down').to.equal('');
  });

  it('3. late cable: the guest boots closed without carrier (networkd) or without its NIC (ifupdown hotplug); when the link comes up the hook refreshes at once, the moved name\'s new address gets in and the old one is shut out', async () => {
    await g.startDns({ 'moving.example.test': [OLD4] });
    await g.ok('tm3 add-fqdn moving moving.example.test --services ssh');
    expect((await g.probe([ssh(OLD4)]))[0]).to.equal('open');

    // systemd-networkd with networkd-dispatcher; the cable stays out while the name moves and the box boots
    // (IPv6AcceptRA=no, as for a static server: with it on and no router on the link, networkd
    // says "routable" only some 13 s after the carrier, and the hook with it)
    await g.ok("printf 'IPv6AcceptRA=no\\n' >> /etc/systemd/network/eth0.network && systemctl disable networking.service && systemctl enable systemd-networkd.service networkd-dispatcher.service");
    await g.exec('systemctl poweroff --no-block');
    expect(await g.must('wait-exit', g.name)).to.equal('0');
    await g.setDns({ 'moving.example.test': [NEW4] });
    // startup waits up to two minutes for network-online.target without carrier: the firewall does not
    await g.boot({ cable: 'down', until: 'tm3-firewall.service' });
    expect(await g.ok('cat /sys/class/net/eth0/carrier 2>&1 || true')).to.not.match(/^1/);
    for (const bin of ['iptables', 'ip6tables']) expect(await g.ok(`${bin} -S INPUT`), `${bin} without carrier`).to.match(/^-P INPUT DROP/m);
    expect(await g.ok('ipset list tm3-ssh-4'), 'the last good address is loaded').to.include(OLD4);
    const t0 = Date.now();
    await g.must('cable', g.name, 'up');
    expect(await g.probeUntil(ssh(NEW4), ['open'], 25_000), 'the new address after the cable').to.equal('open');
    const took = (Date.now() - t0) / 1000;
    expect((await g.probe([ssh(OLD4), ssh(STRANGER4)])), 'the old address and a stranger').to.deep.equal(['timeout', 'timeout']);
    expect(await g.ok('journalctl -b --no-pager -o cat | grep "refresh (routable:eth0)" || true'), 'the networkd-dispatcher hook ran the refresh').to.match(/refresh \(routable:eth0\)/);
    console.log(`      networkd: the new address got in ${took.toFixed(1)} s after the cable (the timer alone: up to 30 s after boot)`);
    // knockd waits for network-online.target, which the carrier brings (a moment after the refresh)
    expect((await g.exec('systemctl is-system-running --wait')).stdout.trim(), 'startup once the cable is in').to.equal('running');
    expect((await g.exec('systemctl is-active knockd.service')).stdout.trim(), 'knockd once the cable is in').to.equal('active');

    // ifupdown with allow-hotplug: the NIC itself appears after boot. udev's part is done by hand:
    // its rule would start ifup@eth0.service, which binds to a .device unit that only exists with
    // udev (none in a container). The test runs that unit's own command in a unit like it (see README)
    await g.ok("systemctl disable systemd-networkd.service systemd-networkd.socket networkd-dispatcher.service systemd-networkd-wait-online.service && systemctl enable networking.service && sed -i 's/^auto eth0/allow-hotplug eth0/' /etc/network/interfaces");
    await g.exec('systemctl poweroff --no-block');
    expect(await g.must('wait-exit', g.name)).to.equal('0');
    await g.setDns({ 'moving.example.test': [OLD4] });
    await g.boot({ nic: false }); // degraded, or about to be: knockd cannot open a NIC that is not there
    for (const bin of ['iptables', 'ip6tables']) expect(await g.ok(`${bin} -S INPUT`), `${bin} without a NIC`).to.match(/^-P INPUT DROP/m);
    expect((await g.exec('systemctl is-failed knockd.service')).stdout.trim(), 'knockd without its NIC').to.equal('failed');
    const t1 = Date.now();
    await g.plugNic();
    await g.ok("systemd-run --quiet --unit=ifup-eth0-hotplug -p RemainAfterExit=yes /bin/sh -ec 'ifup --allow=hotplug eth0; ifquery --state eth0'");
    expect(await g.probeUntil(ssh(OLD4), ['open'], 25_000), 'the name\'s address after the hotplug').to.equal('open');
    const took2 = (Date.now() - t1) / 1000;
    expect((await g.probe([ssh(NEW4), ssh(STRANGER4)])), 'the address the name left, and a stranger').to.deep.equal(['timeout', 'timeout']);
    expect(await g.ok('journalctl -b --no-pager -o cat | grep "refresh (if-up:eth0)" || true'), 'the if-up.d hook ran the refresh').to.match(/refresh \(if-up:eth0\)/);
    console.log(`      ifupdown hotplug: the name's address got in ${took2.toFixed(1)} s after the NIC appeared`);
    // knockd had failed at boot for want of eth0; the same hook started it, so travellers can knock again
    // (after the refresh, so give it a moment)
    expect(await g.ok('for i in $(seq 100); do journalctl -b --no-pager -o cat | grep "if-up:eth0: knockd had failed; started it" && break; sleep 0.1; done; true'), 'the hook started knockd').to.match(/knockd had failed/);
    expect((await g.exec('systemctl is-active knockd.service')).stdout.trim(), 'knockd after the hotplug').to.equal('active');
    expect((await g.exec('systemctl --failed --plain --no-legend')).stdout.trim(), 'failed units after the hotplug').to.equal('');
    await g.ok('tm3 doctor');
    await g.ok("sed -i 's/^allow-hotplug eth0/auto eth0/' /etc/network/interfaces");
    await g.stopDns();
  });

  it('4. a corrupt rules.v4 at boot: netfilter-persistent fails, the failsafe closes the box, the journal has the crit line, and tm3 restart mends it', async () => {
    await g.ok("printf '*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -j NO-SUCH-CHAIN\\nCOMMIT\\n' > /etc/iptables/rules.v4");
    expect(await g.cycle()).to.equal('degraded'); // netfilter-persistent failed, on purpose
    expect((await g.exec('systemctl --failed --plain --no-legend')).stdout).to.match(/netfilter-persistent\.service/);
    expect((await g.exec('systemctl is-active tm3-firewall.service')).stdout.trim()).to.equal('active');
    expect(await g.ok('iptables -S INPUT')).to.match(/^-P INPUT DROP/m);
    expect(await g.ok('ip6tables -S INPUT')).to.match(/^-P INPUT DROP/m);
    expect(await g.ok('journalctl -b -p crit --no-pager -o cat')).to.match(/the firewall was not up after netfilter-persistent; loading tm3's own closed ruleset/);
    expect(await g.probe([{ proto: 'tcp', host: GUEST4, port: 22 }, { proto: 'udp', host: GUEST4, port: 5060 }, ssh(STRANGER6)]), 'a stranger after the failed boot').to.deep.equal(['timeout', 'timeout', 'timeout']);
    await g.ok('tm3 restart');
    await g.ok('tm3 doctor');
  });
});

// Two older tarballs, each built from this repository's history: the end of the first round, and
// the last release before this one, which already enabled knockd (so at the upgrade systemctl no
// longer shows the state the box had before tm3). Each upgrade has a guest of its own, and the two
// run side by side (most of their time is npx and systemd at work, or waiting on each other):
// both start in the hook, and each test waits for its own and fails with its own assertion.
const UPGRADES = [['4ef08c7', 'the first round', 1], ['7100578', 'the release that enabled knockd', 2]] as const;
describe('a real boot: upgrade over an older tm3 (the first round, and the release that enabled knockd), then uninstall (nspawn)', function () {
  this.timeout(900_000);
  const guests: Guest[] = [];
  const dirs: string[] = [];
  const runs = new Map<string, Promise<void>>();

  async function upgrade(rev: string, g: Guest, dir: string) {
    const old = await execa('bash', [path.join(REPO, 'scripts/guest/old-tarball.sh'), rev], { reject: false, stdin: 'ignore' });
    expect(old.exitCode, `scripts/guest/old-tarball.sh failed:\n${old.stderr.slice(-2000)}`).to.equal(0);
    await installFresh(g, dir, { 'tm3-old.tgz': old.stdout.trim() });

    // the box before tm3: the admin's own saved firewall, loaded at boot by netfilter-persistent
    await g.ok("printf '*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n-A INPUT -p tcp --dport 2222 -j DROP\\nCOMMIT\\n' > /etc/iptables/rules.v4 && printf '*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n-A INPUT -p tcp --dport 2222 -j DROP\\nCOMMIT\\n' > /etc/iptables/rules.v6");
    await g.cycle();
    // the box as it boots: kernel rules (without counters), sets, enabled and failed units, and every
    // file and link under /etc and /usr/local except /etc/tm3, which uninstall keeps on purpose
    const snapshot = async () => (await g.ok([
      'iptables-save | grep -v "^#"', 'ip6tables-save | grep -v "^#"', 'ipset list -n',
      'systemctl list-unit-files --state=enabled --no-legend --no-pager',
      'systemctl --failed --plain --no-legend --no-pager',
      'find /etc /usr/local \\( -path /etc/tm3 -o -path /etc/tm3/\\* \\) -prune -o \\( -type f -o -type l \\) -print | sort | while read -r f; do if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(sha256sum < "$f" | cut -c1-16) $(stat -c %a "$f")"; fi; done',
    ].join('; echo ==; '))).replace(/ \[\d+:\d+\]$/gm, '').split('\n');
    const before = await snapshot();

    await g.ok(installCmd('tm3-old.tgz'), 600);
    expect(await g.ok('tm3 --version')).to.match(/0\.1\.0/);
    await g.ok(`tm3 add-ip office ${OFFICE4} --services ssh`);
    await g.ok("sed -i 's|^# <<< END ADMIN SECTION <<<|/sbin/iptables -w -I INPUT -s 198.51.100.7 -j DROP  # the admin s own line\\n&|' /usr/local/sbin/iptables-custom");
    await g.ok('tm3 restart');
    const seq = JSON.parse(await g.ok('tm3 knock status --json')).sequence as number[];
    const entries = await g.ok('tm3 list --json');

    await g.ok(installCmd('tm3-install.tgz'), 600);
    expect(await g.ok('tm3 --version')).to.match(/0\.2\.0/);
    expect(await g.cycle(), 'after the upgrade and a power cycle').to.equal('running');
    expect(JSON.parse(await g.ok('tm3 knock status --json')).sequence, 'the knock code').to.deep.equal(seq);
    const names = (text: string) => (JSON.parse(text) as { name: string; addresses?: string[] }[]).map((e) => e.name).sort();
    expect(names(await g.ok('tm3 list --json')), 'the entries').to.deep.equal(names(entries));
    expect(await g.ok('cat /usr/local/sbin/iptables-custom')).to.include("198.51.100.7 -j DROP  # the admin s own line");
    expect(await g.ok('iptables -S INPUT'), 'the ADMIN SECTION line ran at boot').to.match(/-s 198\.51\.100\.7\/32 -j DROP/);
    expect(await g.probe([ssh(OFFICE4), ssh(ADMIN4), ssh(STRANGER4)])).to.deep.equal(['open', 'open', 'timeout']);
    await g.ok('tm3 doctor');

    const said = await g.ok('cd /root && npx --yes --offline ./tm3-install.tgz --uninstall --yes 2>&1', 300);
    await g.cycle();
    const after = await snapshot();
    expect({ gone: before.filter((l) => !after.includes(l)), added: after.filter((l) => !before.includes(l)) }, `the box after --uninstall and a reboot, against the box before tm3 (uninstall said:\n${said})`).to.deep.equal({ gone: [], added: [] });
  }

  before(async function () {
    requireLab(this, ['systemd-nspawn', 'debootstrap', 'nsenter', 'npm', 'git']);
    await reapDeadGuests();
    await ensureImage();
    for (const [rev, , n] of UPGRADES) {
      const g = new Guest(`tm3bootup${n}-${process.pid}`);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-bootup-'));
      guests.push(g);
      dirs.push(dir);
      const run = upgrade(rev, g, dir);
      run.catch(() => undefined); // reported by its own test below, not as an unhandled rejection
      runs.set(rev, run);
    }
  });
  after(async () => {
    await Promise.allSettled(runs.values());
    await Promise.all(guests.map((g) => g.destroy()));
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [rev] of UPGRADES) {
    it(`5. a newer tarball over 0.1.0 (${rev}) keeps entries, the knock code and the ADMIN SECTION; after --uninstall and a reboot the box is as it was before tm3`, async () => {
      await runs.get(rev);
    });
  }
});
