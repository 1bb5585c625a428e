import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab, DIST } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, PORTS } from './access.js';

const INSTALLER = path.join(DIST, 'installer/main.js');
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const OLD_RULES = '# the admin\'s own rules before tm3\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 2222 -j ACCEPT\nCOMMIT\n';

describe('tm3-install (lab)', function () {
  this.timeout(240_000);
  let lab: Lab;
  let admin: Lab['server'], stranger: Lab['server'];
  const R = (...p: string[]) => path.join(lab.root, ...p);
  const installer = (args: string[], env: Record<string, string> = {}) =>
    execa('ip', ['netns', 'exec', lab.server.ns, process.execPath, INSTALLER, ...args], { reject: false, stdin: 'ignore', env: { TM3_NO_SYSLOG: '1', ...env } });
  const installArgs = () => ['--root', lab.root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--admin-ip', admin.v6, '--no-public-ip', '--interface', 'veth-s', '--apply'];

  before(async function () {
    requireLab(this, ['fail2ban-server', 'knockd', 'script', 'npm']);
    lab = await Lab.create(2);
    [admin, stranger] = lab.clients;
    await lab.startResponder();
    fs.mkdirSync(R('etc/iptables'), { recursive: true });
    fs.writeFileSync(R('etc/iptables/rules.v4'), OLD_RULES);
  });
  after(async () => { await lab?.destroy(); });

  it('4. --dry-run on a fresh root prints the plan and writes nothing', async () => {
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-dry-'));
    try {
      const r = await execa('ip', ['netns', 'exec', lab.server.ns, process.execPath, INSTALLER, '--root', fresh, '--dry-run', '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s'], { reject: false, stdin: 'ignore' });
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(r.stdout).to.include('would create').and.include('rules.v4').and.include(`would whitelist: admin-${admin.v4}`);
      expect(fs.readdirSync(fresh)).to.deep.equal([]);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('1. installs into the lab root and closes the server: only the admin reaches SSH, over IPv4 and IPv6', async () => {
    const r = await installer(installArgs());
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
    await Promise.all([
      expectOnly(lab, admin, 4, PORTS),
      expectOnly(lab, admin, 6, PORTS),
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, stranger, 6, []),
    ]);
    const files = ['etc/iptables/rules.v4', 'etc/iptables/rules.v6', 'etc/iptables/ipsets', 'usr/local/sbin/iptables-custom', 'etc/knockd.conf', 'etc/default/knockd',
      'root/knock.FAQ', 'etc/fail2ban/jail.d/tm3.local', 'etc/systemd/system/tm3-firewall.service', 'etc/systemd/system/tm3-refresh.timer',
      'etc/network/if-up.d/tm3', 'etc/NetworkManager/dispatcher.d/90-tm3', 'etc/networkd-dispatcher/routable.d/90-tm3', 'etc/tm3/tm3.conf',
      'usr/local/lib/tm3/dist/cli/main.js', 'usr/local/sbin/tm3'];
    for (const f of files) expect(fs.existsSync(R(f)), f).to.equal(true);
    for (const cmd of ['usr/local/sbin/tm3', 'root/add-ip', 'root/add-fqdn', 'root/del-acct', 'root/iptables-restart', 'root/iptables-knock', 'root/ipchecker', 'usr/local/sbin/iptables-custom']) {
      expect(fs.statSync(R(cmd)).mode & 0o100, `${cmd} is executable`).to.equal(0o100);
    }
    // generated files run the installed copy, never this checkout or an npx cache
    expect(fs.readFileSync(R('etc/knockd.conf'), 'utf8')).to.include(`start_command = ${R('usr/local/sbin/tm3-knock-grant')} %IP%`);
    expect(fs.readFileSync(R('usr/local/sbin/tm3-knock-grant'), 'utf8')).to.include(`${R('usr/local/lib/tm3/dist/cli/main.js')} --root ${lab.root} --quiet knock grant --granted "$ip"`);
    expect(fs.readFileSync(R(`var/backups/tm3/${fs.readdirSync(R('var/backups/tm3'))[0]}/etc/iptables/rules.v4`), 'utf8')).to.equal(OLD_RULES);
    const st = await execa('ip', ['netns', 'exec', lab.server.ns, R('usr/local/sbin/tm3'), 'status', '--json'], { reject: false });
    expect(JSON.parse(st.stdout).firewall.active).to.equal(true);
  });

  it("2. the original's /root/add-ip NAME IP, with no terminal, whitelists with services all", async () => {
    const r = await lab.exec(lab.server.ns, R('root/add-ip'), ['visitor', stranger.v4], { input: '' });
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(fs.readFileSync(R('root/visitor.iptables'), 'utf8')).to.match(/^services=all$/m);
    await expectOnly(lab, stranger, 4, PORTS);
    await lab.exec(lab.server.ns, R('root/del-acct'), ['visitor']);
    await expectOnly(lab, stranger, 4, []);
  });

  it('3. a second run changes no byte of rules.v4 or knockd.conf and duplicates no entry', async () => {
    const before = { rules: fs.readFileSync(R('etc/iptables/rules.v4')), knockd: fs.readFileSync(R('etc/knockd.conf')), entries: fs.readdirSync(R('root')).filter((f) => f.endsWith('.iptables')).sort() };
    const r = await installer(installArgs());
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.stdout).not.to.match(/whitelisted /);
    expect(fs.readFileSync(R('etc/iptables/rules.v4')).equals(before.rules)).to.equal(true);
    expect(fs.readFileSync(R('etc/knockd.conf')).equals(before.knockd)).to.equal(true);
    expect(fs.readdirSync(R('root')).filter((f) => f.endsWith('.iptables')).sort()).to.deep.equal(before.entries);
  });

  it('--providers: a typo is one line before anything changes; a known id whitelists its addresses for SIP only; a re-run adds nothing', async () => {
    // a test provider on a documentation address, in the root's local catalog (never a real provider's address)
    fs.writeFileSync(R('etc/tm3/providers.json'), JSON.stringify({ format: 1, providers: [{ id: 'lab-trunk', name: 'Lab trunk', services: ['sip'], signalling: [{ address: stranger.v4, source: 'https://example.org/lab', published: 'retrieved 2026-11-26' }] }] }));
    try {
      const snapshot = () => ({ rules: fs.readFileSync(R('etc/iptables/rules.v4'), 'utf8'), record: fs.readFileSync(R('var/lib/tm3/install.json'), 'utf8'), entries: fs.readdirSync(R('root')).filter((f) => f.endsWith('.iptables')).sort() });
      const before = snapshot();
      const bad = await installer([...installArgs(), '--providers', 'lab-trunc']);
      expect(bad.exitCode).to.equal(2);
      expect(bad.stderr.trim()).to.match(/^tm3-install: unknown provider 'lab-trunc' \(fix: did you mean lab-trunk\?[^\n]*\)$/);
      expect(bad.stdout).to.equal('');
      expect(snapshot()).to.deep.equal(before);
      await expectOnly(lab, stranger, 4, []);
      const good = await installer([...installArgs(), '--providers', 'lab-trunk']);
      expect(good.exitCode, good.stderr).to.equal(0);
      expect(good.stdout).to.include('whitelisted lab-trunk-1 (provider)');
      await expectOnly(lab, stranger, 4, ['tcp/5060', 'udp/5060']);
      const again = await installer([...installArgs(), '--providers', 'lab-trunk']);
      expect(again.exitCode, again.stderr).to.equal(0);
      expect(again.stdout).not.to.match(/whitelisted /);
      // the installed tm3 knows the provider too, and takes it away
      const tm3 = (args: string[]) => lab.exec(lab.server.ns, R('usr/local/sbin/tm3'), args, { reject: false });
      expect((await tm3(['provider', 'list'])).stdout).to.match(/^lab-trunk .* yes$/m);
      expect((await tm3(['provider', 'remove', 'lab-trunk'])).exitCode).to.equal(0);
      await expectOnly(lab, stranger, 4, []);
    } finally {
      fs.rmSync(R('etc/tm3/providers.json'), { force: true });
    }
  });

  it('--providers on a terminal: asked with the catalog, a typo is asked again', async () => {
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-ask-providers-'));
    try {
      fs.mkdirSync(path.join(fresh, 'etc/tm3'), { recursive: true });
      fs.writeFileSync(path.join(fresh, 'etc/tm3/providers.json'), JSON.stringify({ format: 1, providers: [{ id: 'lab-trunk', name: 'Lab trunk', services: ['sip'], signalling: [{ address: stranger.v4, source: 'https://example.org/lab', published: 'retrieved 2026-11-26' }] }] }));
      const cmd = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, INSTALLER, '--root', fresh, '--dry-run', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s'].join(' ');
      // on a real terminal, as a person types: the detected values kept, then a typo, then the right id
      const PTY = fileURLToPath(new URL('./helpers/pty-drive.py', import.meta.url));
      const steps = [
        ['Admin address\\(es\\) to whitelist.*\\]: ', ''], ['Interface facing the internet.*\\]: ', ''],
        ['Public address users knock on.*\\]: ', '203.0.113.9'], ['Whom users ask.*\\]: ', ''],
        ['Trust which providers\\? comma separated ids \\[none\\]: ', 'lab-trunc'],
        ["unknown provider 'lab-trunc' \\(fix: did you mean lab-trunk\\?.*Try again\\.[\\s\\S]*Trust which providers", 'lab-trunk'],
      ];
      const r = await execa('python3', [PTY, JSON.stringify(steps), ...cmd.split(' ')], { reject: false, env: { TM3_NO_SYSLOG: '1' } });
      expect(r.exitCode, r.stdout).to.equal(0);
      expect(r.stdout).to.include('Trust which providers?');
      expect(r.stdout).to.match(/unknown provider 'lab-trunc' \(fix: did you mean lab-trunk\?/);
      expect(r.stdout).to.include('would trust providers lab-trunk: lab-trunk-1');
      expect(fs.readdirSync(fresh).sort()).to.deep.equal(['etc']);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('issue 16: tm3 run from the build tree against the installed root points no generated file at the build tree', async () => {
    // render, restart, a knock rotation and permanent mode each rewrite files that call tm3
    for (const args of [['render'], ['restart'], ['knock', 'rotate'], ['knock', 'activate'], ['knock', 'deactivate']]) {
      const r = await lab.exec(lab.server.ns, process.execPath, [path.join(DIST, 'cli/main.js'), '--root', lab.root, ...args], { reject: false });
      expect(r.exitCode, `tm3 ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    }
    const naming: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const f = path.join(dir, e.name);
        if (f === R('usr/local/lib/tm3') || f === R('proc')) continue;
        if (e.isDirectory()) walk(f);
        else if (e.isFile() && fs.statSync(f).size < 1_000_000 && fs.readFileSync(f, 'latin1').includes(REPO.replace(/\/$/, ''))) naming.push(path.relative(lab.root, f));
      }
    };
    walk(lab.root);
    expect(naming, `files naming ${REPO}`).to.deep.equal([]);
    // and they do name the installed copy (so the check above looked at the right files)
    // (knockd.conf runs the shell fast path, which hands the rest to tm3)
    for (const f of ['usr/local/sbin/tm3-knock-grant', 'etc/systemd/system/tm3-refresh.service', 'root/add-ip', 'usr/local/sbin/tm3-refresh-soon']) {
      expect(fs.readFileSync(R(f), 'utf8'), f).to.include(R('usr/local/lib/tm3/dist/cli/main.js'));
    }
  });

  it('issue 16: knock rotate --dry-run shows the sequence the real rotate then uses', async () => {
    const dry = await lab.tm3(['knock', 'rotate', '--dry-run']);
    const shown = /would rotate to (\d+ \d+ \d+)/.exec(dry.stdout)?.[1];
    expect(shown, dry.stdout + dry.stderr).to.be.a('string');
    const again = await lab.tm3(['knock', 'rotate', '--dry-run']);
    expect(again.stdout, 'a second dry run shows the same').to.include(`would rotate to ${shown}`);
    const real = await lab.tm3(['knock', 'rotate']);
    expect(real.exitCode, real.stderr).to.equal(0);
    expect(real.stdout).to.include(`new sequence ${shown} (the one the dry run showed)`);
    expect((JSON.parse((await lab.tm3(['knock', 'status', '--json'])).stdout) as { sequence: number[] }).sequence.join(' ')).to.equal(shown);
    // the next dry run picks a new one
    expect((await lab.tm3(['knock', 'rotate', '--dry-run'])).stdout).not.to.include(`would rotate to ${shown}`);
  });

  it("issue 16: knock.FAQ's Mac/Linux recipes, pasted as they are, open the door; none of them without the knock", async () => {
    const faq = fs.readFileSync(R('root/knock.FAQ'), 'utf8');
    const bash = faq.split('\n').find((l) => l.includes('/dev/tcp/'))!.trim();
    const nmap = faq.split('\n').find((l) => /nmap -Pn -n/.test(l))!.trim();
    expect(bash).to.include(lab.server.v4);
    for (const recipe of [bash, nmap]) {
      await lab.tm3(['knock', 'revoke', '--all']);
      expect(await lab.reaches(stranger, 'tcp', 22), 'before the knock').to.equal(false);
      const r = await lab.exec(stranger.ns, 'bash', ['-c', recipe], { reject: false });
      expect(r.exitCode, `${recipe}: ${r.stderr}`).to.equal(0);
      let open = false;
      for (const t0 = Date.now(); !open && Date.now() - t0 < 3000;) open = await lab.reaches(stranger, 'tcp', 22);
      expect(open, `after: ${recipe}`).to.equal(true);
    }
    await lab.tm3(['knock', 'revoke', '--all']);
    expect(await lab.reaches(stranger, 'tcp', 22)).to.equal(false);
  });

  it('7. an interactive apply over SSH that is not confirmed puts the previous rules back within the window', async () => {
    for (const bin of ['iptables', 'ip6tables']) await lab.exec(lab.server.ns, bin, ['-P', 'INPUT', 'ACCEPT']);
    const cmd = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, INSTALLER, ...installArgs(), '--confirm-seconds', '3'].join(' ');
    const t0 = Date.now();
    const r = await execa('script', ['-qec', cmd, '/dev/null'], { reject: false, input: '', env: { SSH_CONNECTION: `${admin.v4} 50000 ${lab.server.v4} 22`, TM3_NO_SYSLOG: '1' } });
    expect(r.stdout).to.match(/Type "yes" within 3 s/);
    expect(r.stdout + r.stderr).to.match(/previous firewall rules are back/);
    expect(Date.now() - t0).to.be.below(60_000);
    expect((await lab.exec(lab.server.ns, 'iptables', ['-S', 'INPUT'])).stdout).to.match(/^-P INPUT ACCEPT/);
    await expectOnly(lab, stranger, 4, PORTS);
  });

  it('7. a first install that is not confirmed leaves the boot rules as they were too, so a reboot cannot lock the admin out', async () => {
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-unconfirmed-'));
    try {
      fs.mkdirSync(path.join(fresh, 'etc/iptables'), { recursive: true });
      fs.writeFileSync(path.join(fresh, 'etc/iptables/rules.v4'), OLD_RULES);
      // a legacy box's knockd.conf: its users' knock opens the rules that come back (red team)
      const oldKnockd = '[options]\n\tUseSyslog\n\n[opencloseSSH]\n\tsequence = 7113:tcp,8224:tcp,9335:tcp\n\tseq_timeout = 15\n\ttcpflags = syn\n\tstart_command = /sbin/iptables -I INPUT -s %IP% -j ACCEPT\n';
      fs.writeFileSync(path.join(fresh, 'etc/knockd.conf'), oldKnockd);
      const rules = async () => (await lab.exec(lab.server.ns, 'iptables-save', ['-t', 'filter'])).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
      const kernel = await rules();
      const args = ['--root', fresh, '--yes', '--no-packages', '--no-migrate', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s', '--apply', '--confirm-seconds', '2'];
      const cmd = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, INSTALLER, ...args].join(' ');
      const r = await execa('script', ['-qec', cmd, '/dev/null'], { reject: false, input: '', env: { SSH_CONNECTION: `${admin.v4} 50000 ${lab.server.v4} 22`, TM3_NO_SYSLOG: '1' } });
      expect(r.stdout + r.stderr).to.match(/previous firewall rules are back, in the kernel and in \/etc\/iptables/);
      expect(fs.readFileSync(path.join(fresh, 'etc/iptables/rules.v4'), 'utf8')).to.equal(OLD_RULES);
      expect(fs.existsSync(path.join(fresh, 'etc/iptables/rules.v6')), 'rules.v6 did not exist before').to.equal(false);
      expect(fs.readFileSync(path.join(fresh, 'etc/knockd.conf'), 'utf8'), 'knockd.conf as it was').to.equal(oldKnockd);
      const jailFiles = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => /tm3/.test(f)) : []);
      expect(jailFiles(path.join(fresh, 'etc/fail2ban')), "tm3's Fail2Ban files, which nothing before used").to.deep.equal([]);
      expect(await rules()).to.equal(kernel);
      // the knockd and fail2ban-server this run started (tm3 runs them itself without systemd) are gone
      expect(r.stdout).to.match(/stopped again: knockd, fail2ban/);
      const ps = (await execa('ps', ['-eo', 'args'])).stdout.split('\n').filter((l) => l.includes(fresh) && /knockd|fail2ban-server/.test(l));
      expect(ps, 'daemons left running').to.deep.equal([]);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('refuses to run over a half-finished install without --repair', async () => {
    const rec = R('var/lib/tm3/install.json');
    const saved = fs.readFileSync(rec, 'utf8');
    fs.writeFileSync(rec, JSON.stringify({ ...JSON.parse(saved), state: 'installing' }));
    const r = await installer(installArgs());
    expect(r.exitCode).to.equal(3);
    expect(r.stderr.trim()).to.match(/^tm3-install: an earlier tm3-install stopped half way \(fix: run tm3-install --repair to finish it\)$/);
    fs.writeFileSync(rec, saved);
  });

  it('on a legacy box it migrates first: entries and the knock code kept; --uninstall --dry-run changes nothing; --uninstall puts the legacy files back', async () => {
    const legacy = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-legacy-'));
    const L = (...p: string[]) => path.join(legacy, ...p);
    const FIX = fileURLToPath(new URL('../fixtures/legacy/ubuntu-2016/root/', import.meta.url));
    try {
      fs.cpSync(FIX, legacy, { recursive: true });
      // staged, without --apply: files only, no kernel change
      const r = await installer(['--root', legacy, '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s']);
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
      expect(r.stdout).to.include('a legacy firewall is here: tm3 migrate would carry over 9 whitelist entries');
      const list = await execa(process.execPath, [path.join(DIST, 'cli/main.js'), '--root', legacy, 'list', '--json'], { env: { TM3_NO_SYSLOG: '1' } });
      const names = (JSON.parse(list.stdout) as { name: string }[]).map((e) => e.name);
      expect(names).to.include.members(['home', 'office', 'cabin', 'voip.ms', 'vitelity-198.51.100.21', `admin-${admin.v4}`]);
      expect(fs.readFileSync(L('etc/knockd.conf'), 'utf8')).to.match(/sequence\s*=\s*7113:tcp,8224:tcp,9335:tcp/);
      const snap = () => JSON.stringify(fs.readdirSync(legacy, { recursive: true, encoding: 'utf8' }).sort().map((f) => [f, fs.statSync(L(f)).isFile() ? fs.readFileSync(L(f), 'base64') : '']));
      const before = snap();
      const dry = await installer(['--root', legacy, '--uninstall', '--dry-run']);
      expect(dry.exitCode, dry.stderr).to.equal(0);
      expect(dry.stdout).to.match(/^would restore \/etc\/iptables\/rules\.v4$/m).and.match(/^would roll back the migration in \/var\/backups\/tm3\/.*-migrate/m);
      expect(snap()).to.equal(before);
      const un = await installer(['--root', legacy, '--uninstall']);
      expect(un.exitCode, un.stderr).to.equal(0);
      // the legacy entry files too: the old tools read them, not tm3's INI
      for (const f of ['etc/iptables/rules.v4', 'etc/iptables/rules.v6', 'etc/knockd.conf', 'root/knock.FAQ', 'root/home.iptables', 'root/office.iptables', 'root/20170220-101500.iptables']) {
        expect(fs.readFileSync(L(f)).equals(fs.readFileSync(path.join(FIX, f))), f).to.equal(true);
      }
      expect(fs.existsSync(L('root/voip.ms.iptables')), 'an entry the migration made').to.equal(false);
    } finally {
      fs.rmSync(legacy, { recursive: true, force: true });
    }
  });

  it('5. --uninstall restores the pre-existing rules.v4 byte for byte and removes the units', async () => {
    const custom = R('usr/local/sbin/iptables-custom');
    fs.writeFileSync(custom, fs.readFileSync(custom, 'utf8').replace('# <<< END ADMIN SECTION <<<', 'iptables -w -A TM3-ADMIN -s 198.51.100.77 -j DROP  # the admin s own line\n# <<< END ADMIN SECTION <<<'));
    const dry = await installer(['--root', lab.root, '--uninstall', '--dry-run']);
    expect(dry.stdout).to.match(/^would save the ADMIN SECTION of \/usr\/local\/sbin\/iptables-custom to \/var\/backups\/tm3\/\d{8}-\d{6}-uninstall\/iptables-custom\.ADMIN-SECTION$/m);
    const r = await installer(['--root', lab.root, '--uninstall', '--apply']);
    expect(r.exitCode, r.stderr).to.equal(0);
    // issue 16: the admin's own rules are kept, and where is said
    const saved = /kept: your ADMIN SECTION rules, in (\/var\/backups\/tm3\/\S+-uninstall\/iptables-custom\.ADMIN-SECTION)/.exec(r.stdout)?.[1];
    expect(saved, r.stdout).to.be.a('string');
    expect(fs.readFileSync(R(saved!), 'utf8')).to.include('iptables -w -A TM3-ADMIN -s 198.51.100.77 -j DROP  # the admin s own line');
    // what the box is left with: OLD_RULES had policy ACCEPT, and the daemons are stopped
    expect(r.stderr).to.match(/INPUT policy IPv4 ACCEPT, IPv6 ACCEPT\): unless those rules drop it, anyone reaches every service/);
    expect(r.stderr).to.match(/at boot, netfilter-persistent loads \/etc\/iptables\/rules\.v4 /);
    expect(r.stderr).to.match(/knockd stopped, .*fail2ban stopped/);
    // every backup folder it names is one that exists
    for (const dir of r.stdout.match(/\/var\/backups\/tm3\/[^\s,)]+/g) ?? []) expect(fs.existsSync(R(dir)), dir).to.equal(true);
    expect(fs.readFileSync(R('etc/iptables/rules.v4'), 'utf8')).to.equal(OLD_RULES);
    for (const f of ['etc/systemd/system/tm3-firewall.service', 'etc/systemd/system/tm3-refresh.timer', 'etc/network/if-up.d/tm3', 'usr/local/sbin/tm3', 'usr/local/lib/tm3', 'root/add-ip', 'etc/knockd.conf']) {
      expect(fs.existsSync(R(f)), f).to.equal(false);
    }
    expect((await lab.exec(lab.server.ns, 'ipset', ['list', '-n'])).stdout).not.to.match(/tm3-/);
  });
});

describe('tm3-install answers, flags and re-runs (issue 16, lab)', function () {
  this.timeout(240_000);
  let lab: Lab;
  let admin: Lab['server'];
  const roots: string[] = [];
  const freshRoot = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-answers-')); roots.push(d); return d; };
  const PTY = fileURLToPath(new URL('./helpers/pty-drive.py', import.meta.url));
  // an interface with an inside address, as on a box behind NAT (a veth: this kernel has no dummy)
  const NATTED = 'tm3nat0';
  before(async function () {
    requireLab(this, ['python3', 'knockd']);
    lab = await Lab.create(1);
    [admin] = lab.clients;
    for (const args of [['link', 'add', NATTED, 'type', 'veth', 'peer', 'name', 'tm3nat1'], ['addr', 'add', '10.77.0.1/24', 'dev', NATTED], ['link', 'set', NATTED, 'up']]) await lab.exec(lab.server.ns, 'ip', args);
  });
  after(async () => {
    await lab?.destroy();
    for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
  });
  const run = (args: string[]) => execa('ip', ['netns', 'exec', lab.server.ns, process.execPath, INSTALLER, ...args], { reject: false, stdin: 'ignore', env: { TM3_NO_SYSLOG: '1' } });

  it('a bad flag fails at once with one line and exit 2, before anything is written', async () => {
    const root = freshRoot();
    const base = ['--root', root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip'];
    for (const [args, msg] of [
      [['--interface', 'nosuch0'], /^tm3-install: interface 'nosuch0' does not exist on this server \(fix: give one that does: .*veth-s.*\)$/],
      [['--interface', 'eth0;reboot'], /^tm3-install: 'eth0;reboot' is not an interface name \(fix: /],
      [['--interface', 'veth-s', '--public-address', '203.0.113.300'], /^tm3-install: public address '203\.0\.113\.300' /],
      [['--interface', 'veth-s', '--admin-contact', 'Ann; rm -rf /'], /^tm3-install: --admin-contact 'Ann; rm -rf \/' is not one plain line/],
    ] as [string[], RegExp][]) {
      const r = await run([...base, ...args]);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.trim().split('\n'), 'one line').to.have.length(1);
      expect(r.stderr.trim()).to.match(msg);
      expect(fs.readdirSync(root), 'nothing written').to.deep.equal([]);
    }
  });

  it('on a terminal, a typo in an answer asks again with the reason; an inside address gets the public address asked for', async () => {
    const root = freshRoot();
    const steps = [
      ['Admin address\\(es\\) to whitelist.*\\]: ', `${admin.v4},192.0.2.999`],
      ["admin address '192\\.0\\.2\\.999'.*Try again\\.[\\s\\S]*Admin address", admin.v4],
      ['Interface facing the internet \\[.*\\]: ', 'eht0'],
      ["interface 'eht0' does not exist on this server \\(fix: give one that does: .*\\)\\. Try again\\.[\\s\\S]*Interface facing", NATTED],
      ['Public address users knock on \\(for knock\\.FAQ\\) \\[none\\]: ', ''],
      ['Whom users ask when knocking fails.*\\]: ', 'Ann; Smith'],
      ['not one plain line.*Try again\\.[\\s\\S]*Whom users ask', 'Ann Smith, +1 555 0100'],
      ['knock\\.FAQ would name 10\\.77\\.0\\.1 \\(tm3nat0\\), a private address.*[\\s\\S]*Public address users knock on \\(Enter to go on without one\\): ', '203.0.113'],
      ["public address '203\\.0\\.113'.*Try again\\.[\\s\\S]*Public address users knock on", '203.0.113.9'],
      ['Trust which providers\\? comma separated ids \\[none\\]: ', ''],
    ];
    const cmd = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, INSTALLER, '--root', root, '--no-packages', '--no-migrate', '--no-public-ip'];
    const r = await execa('python3', [PTY, JSON.stringify(steps), ...cmd], { reject: false, env: { TM3_NO_SYSLOG: '1' } });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/tm3 \S+ installed/);
    const conf = fs.readFileSync(path.join(root, 'etc/tm3/tm3.conf'), 'utf8');
    expect(conf).to.match(/^interface = tm3nat0$/m).and.match(/^public_address = 203\.0\.113\.9$/m).and.match(/^admin_contact = Ann Smith, \+1 555 0100$/m);
    const faq = fs.readFileSync(path.join(root, 'root/knock.FAQ'), 'utf8');
    expect(faq).to.match(/^ {4}Server: {2}203\.0\.113\.9$/m).and.include('If it still fails, ask Ann Smith, +1 555 0100.');
    expect(fs.existsSync(path.join(root, `root/admin-${admin.v4}.iptables`))).to.equal(true);
  });

  it('Ctrl-C at a question ends the run with one line, and nothing is written', async () => {
    const root = freshRoot();
    const cmd = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, INSTALLER, '--root', root, '--no-packages', '--no-public-ip'];
    const r = await execa('python3', [PTY, JSON.stringify([['Admin address\\(es\\) to whitelist.*\\]: ', '\u0003']]), ...cmd], { reject: false, env: { TM3_NO_SYSLOG: '1' } });
    expect(r.exitCode, r.stdout).to.equal(2);
    // (in red on a terminal: the colour ends before the fix)
    expect(r.stdout).to.match(/tm3-install: interrupted at a question(\x1b\[0m)? \(fix: run tm3-install again when ready/);
    expect(fs.readdirSync(root)).to.deep.equal([]);
  });

  it('without a terminal, an inside address is warned about and knock.FAQ says to ask; a re-run with new flags updates tm3.conf and keeps the admin\'s own keys', async () => {
    const root = freshRoot();
    const first = await run(['--root', root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', NATTED]);
    expect(first.exitCode, first.stderr).to.equal(0);
    expect(first.stderr).to.match(/warning: no public address is known, so knock\.FAQ would name 10\.77\.0\.1 \(tm3nat0\), a private address .*\(fix: tm3-install --public-address ADDR/);
    expect(fs.readFileSync(path.join(root, 'root/knock.FAQ'), 'utf8')).to.match(/Server: {2}10\.77\.0\.1 {3}\(this is an inside address: ask the administrator/);
    // the admin tunes tm3.conf by hand
    const conf = path.join(root, 'etc/tm3/tm3.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('[fail2ban]\n', '[fail2ban]\nmaxretry = 7   ; ours\n'));
    const mine = fs.readFileSync(conf, 'utf8');
    const dry = await run(['--root', root, '--yes', '--no-packages', '--dry-run', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s']);
    expect(dry.stdout).to.include(`would set in ${conf}: [knock] interface = veth-s (was tm3nat0)`);
    expect(fs.readFileSync(conf, 'utf8'), 'a dry run writes nothing').to.equal(mine);
    const again = await run(['--root', root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s', '--public-address', '203.0.113.9', '--admin-contact', 'the IT desk, it@example.com']);
    expect(again.exitCode, again.stderr).to.equal(0);
    expect(again.stdout).to.include('/etc/tm3/tm3.conf: [knock] interface = veth-s (was tm3nat0)').and.include('[server] public_address = 203.0.113.9');
    const after = fs.readFileSync(conf, 'utf8');
    expect(after).to.include('maxretry = 7   ; ours').and.match(/^interface = veth-s$/m).and.match(/^public_address = 203\.0\.113\.9$/m).and.match(/^admin_contact = the IT desk, it@example\.com$/m);
    // nothing else in the file moved
    const strip = (t: string) => t.split('\n').filter((l) => !/^(interface|public_address|admin_contact) = /.test(l)).join('\n');
    expect(strip(after)).to.equal(strip(mine));
    expect(fs.readFileSync(path.join(root, 'root/knock.FAQ'), 'utf8')).to.match(/^ {4}Server: {2}203\.0\.113\.9$/m);
    expect(fs.readFileSync(path.join(root, 'etc/knockd.conf'), 'utf8')).to.match(/^\s*Interface = veth-s$/m);
    // a third run with the same flags changes nothing in tm3.conf
    const third = await run(['--root', root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s']);
    expect(third.exitCode, third.stderr).to.equal(0);
    expect(third.stdout).not.to.match(/tm3\.conf: \[/);
    expect(fs.readFileSync(conf, 'utf8')).to.equal(after);
  });

  it('--uninstall of an install that replaced nothing names no backup folder it did not make', async () => {
    const root = freshRoot();
    const inst = await run(['--root', root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s']);
    expect(inst.exitCode, inst.stderr).to.equal(0);
    const un = await run(['--root', root, '--uninstall']);
    expect(un.exitCode, un.stderr).to.equal(0);
    const named = `${inst.stdout}\n${un.stdout}\n${un.stderr}`.match(/\/var\/backups\/tm3\/[^\s,)]*/g) ?? [];
    for (const dir of named) expect(fs.existsSync(path.join(root, dir)), `${dir} is named but was never made`).to.equal(true);
    expect(un.stdout).to.match(/^kept: whitelist entries in the store directory, \/etc\/tm3$/m);
    expect(un.stderr).to.match(/the kernel was not touched \(a staged root\)/);
  });
});

describe("tm3-install over Debian's stock knockd.conf (lab)", function () {
  this.timeout(120_000);
  let lab: Lab;
  let admin: Lab['server'], stranger: Lab['server'];
  before(async function () {
    requireLab(this, ['knockd']);
    lab = await Lab.create(2);
    [admin, stranger] = lab.clients;
    await lab.startResponder();
    // what apt-get install knockd leaves: the package's example, with its published sequences
    fs.mkdirSync(path.join(lab.root, 'etc'), { recursive: true });
    fs.copyFileSync(fileURLToPath(new URL('../fixtures/knockd-stock.conf', import.meta.url)), path.join(lab.root, 'etc/knockd.conf'));
  });
  after(async () => { await lab?.destroy(); });

  it('is not a legacy firewall: no migration, and the textbook knock 7000 8000 9000 opens nothing; tm3 own sequence does', async () => {
    const r = await execa('ip', ['netns', 'exec', lab.server.ns, process.execPath, INSTALLER, '--root', lab.root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s', '--apply'], { reject: false, stdin: 'ignore', env: { TM3_NO_SYSLOG: '1' } });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout + r.stderr).not.to.match(/legacy firewall/);
    const st = JSON.parse((await lab.tm3(['knock', 'status', '--json'])).stdout) as { sequence: number[]; knockdRunning: boolean };
    expect(st.knockdRunning).to.equal(true);
    expect(st.sequence.join()).not.to.match(/^(7000,8000,9000|9000,8000,7000)$/);
    const opened = async () => {
      for (const t0 = Date.now(); Date.now() - t0 < 1500;) if (await lab.reaches(stranger, 'tcp', 22)) return true;
      return false;
    };
    await lab.knock(stranger, [7000, 8000, 9000]);
    expect(await opened(), 'the textbook knock').to.equal(false);
    await lab.knock(stranger, st.sequence);
    expect(await opened(), "tm3's own knock (so the refusal above can fail)").to.equal(true);
  });
});

describe('tm3-install --sandbox and the packed tarball', function () {
  this.timeout(240_000);
  before(function () { requireLab(this, ['npm', 'knockd']); });

  it('6. --sandbox --yes exits 0 and leaves no namespace behind', async () => {
    const p = execa(process.execPath, [INSTALLER, '--sandbox', '--yes'], { reject: false, stdin: 'ignore', env: { TM3_NO_SYSLOG: '1' } });
    const r = await p;
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/Every check passed/);
    expect(r.stdout, 'the sandbox names its namespaces after its pid').to.include(`tm3lab-${p.pid}-`);
    // only the sandbox's own: another lab (a test running beside this one) may come and go meanwhile
    expect((await execa('ip', ['netns', 'list'])).stdout).not.to.include(`tm3lab-${p.pid}-`);
  });

  it('8. the packed tarball runs through npx with no network', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-pack-'));
    try {
      const pack = await execa('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, reject: false });
      expect(pack.exitCode, pack.stderr).to.equal(0);
      const tgz = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
      const listing = (await execa('tar', ['tzf', path.join(dir, tgz)])).stdout.split('\n').map((l) => l.split('/')[1]);
      expect([...new Set(listing)].sort()).to.deep.equal(['README.md', 'dist', 'hooks', 'installer', 'node_modules', 'package.json', 'providers', 'templates']);
      const r = await execa('npx', ['--yes', '--cache', path.join(dir, 'cache'), `./${tgz}`, '--help'], { cwd: dir, reject: false, env: { npm_config_offline: 'true' } });
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/Usage: tm3-install/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tm3-install over Debian's stock fwknop files (issue 18, lab)", function () {
  this.timeout(180_000);
  let lab: Lab;
  let admin: Lab['server'];
  const R = (...p: string[]) => path.join(lab.root, ...p);
  const STOCK = (f: string) => fileURLToPath(new URL(`../fixtures/fwknop-stock/${f}`, import.meta.url));
  const installer = (args: string[]) => execa('ip', ['netns', 'exec', lab.server.ns, process.execPath, INSTALLER, '--root', lab.root, ...args], { reject: false, stdin: 'ignore', env: { TM3_NO_SYSLOG: '1' } });
  const install = () => installer(['--yes', '--no-packages', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s']);
  before(async function () {
    requireLab(this, ['knockd', 'fwknopd']);
    lab = await Lab.create(1);
    [admin] = lab.clients;
  });
  after(async () => { await lab?.destroy(); });

  it("uninstall puts Debian's stock access.conf and fwknopd.conf back byte for byte, after a person was added and fwknopd ran", async () => {
    fs.mkdirSync(R('etc/fwknop'), { recursive: true });
    for (const f of ['access.conf', 'fwknopd.conf']) fs.copyFileSync(STOCK(f), R('etc/fwknop', f));
    const inst = await install();
    expect(inst.exitCode, inst.stderr).to.equal(0);
    // the stock placeholder keys are replaced: no stanza nobody can use, no key __CHANGEME__
    expect(fs.readFileSync(R('etc/fwknop/access.conf'), 'utf8')).to.match(/^# Written by tm3/).and.not.include('__CHANGEME__');
    const add = await lab.tm3(['user', 'add', 'alice', '--services', 'ssh']);
    expect(add.exitCode, add.stderr).to.equal(0);
    expect(fs.readFileSync(R('etc/fwknop/access.conf'), 'utf8')).to.include(' alice spa $PKT_SRC');
    const un = await installer(['--uninstall']);
    expect(un.exitCode, un.stderr).to.equal(0);
    for (const f of ['access.conf', 'fwknopd.conf']) expect(fs.readFileSync(R('etc/fwknop', f), 'utf8'), f).to.equal(fs.readFileSync(STOCK(f), 'utf8'));
    expect(un.stdout).to.include('fwknop: restored /etc/fwknop/access.conf as the install found it');
    // stopped: no such process, or a zombie nobody reaped (a daemon's parent here is not an init)
    const pidFile = R('run/tm3/fwknopd.pid');
    const pid = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : '';
    const state = pid && fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').slice(0, 1) : 'gone';
    expect(['gone', 'Z'], `fwknopd (pid ${pid}) after the uninstall`).to.include(state);
  });

  it('a box with no fwknop files before the install has none after the uninstall, though tm3 user add made them', async () => {
    fs.rmSync(R('etc/fwknop'), { recursive: true, force: true });
    fs.rmSync(R('etc/tm3/users'), { recursive: true, force: true }); // alice: the store stays after an uninstall
    const inst = await install();
    expect(inst.exitCode, inst.stderr).to.equal(0);
    expect(fs.existsSync(R('etc/fwknop/access.conf')), 'no person, no stock file: nothing written').to.equal(false);
    expect((await lab.tm3(['user', 'add', 'bob', '--services', 'ssh'])).exitCode).to.equal(0);
    expect(fs.readFileSync(R('etc/fwknop/access.conf'), 'utf8')).to.include(' bob spa $PKT_SRC');
    const un = await installer(['--uninstall']);
    expect(un.exitCode, un.stderr).to.equal(0);
    for (const f of ['access.conf', 'fwknopd.conf']) expect(fs.existsSync(R('etc/fwknop', f)), f).to.equal(false);
  });
});
