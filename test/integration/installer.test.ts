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
    await expectOnly(lab, admin, 4, PORTS);
    await expectOnly(lab, admin, 6, PORTS);
    await expectOnly(lab, stranger, 4, []);
    await expectOnly(lab, stranger, 6, []);
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
      // one answer at a time, as a person types: the detected values kept, then a typo, then the right id
      const answers = ['', '', '', 'lab-trunc', 'lab-trunk'];
      const typed = new (await import('node:stream')).Readable({ read() {} });
      const p = execa('script', ['-qec', cmd, '/dev/null'], { reject: false, input: typed, env: { TM3_NO_SYSLOG: '1' } });
      for (const a of answers) { await new Promise((r) => setTimeout(r, 700)); typed.push(`${a}\n`); }
      typed.push(null);
      const r = await p;
      expect(r.stdout).to.include('Trust which providers?');
      expect(r.stdout + r.stderr).to.match(/unknown provider 'lab-trunc' \(fix: did you mean lab-trunk\?/);
      expect(r.stdout).to.include('would trust providers lab-trunk: lab-trunk-1');
      expect(fs.readdirSync(fresh).sort()).to.deep.equal(['etc']);
    } finally {
      fs.rmSync(fresh, { recursive: true, force: true });
    }
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
      const rules = async () => (await lab.exec(lab.server.ns, 'iptables-save', ['-t', 'filter'])).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
      const kernel = await rules();
      const args = ['--root', fresh, '--yes', '--no-packages', '--no-migrate', '--admin-ip', admin.v4, '--no-public-ip', '--interface', 'veth-s', '--apply', '--confirm-seconds', '2'];
      const cmd = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, INSTALLER, ...args].join(' ');
      const r = await execa('script', ['-qec', cmd, '/dev/null'], { reject: false, input: '', env: { SSH_CONNECTION: `${admin.v4} 50000 ${lab.server.v4} 22`, TM3_NO_SYSLOG: '1' } });
      expect(r.stdout + r.stderr).to.match(/previous firewall rules are back, in the kernel and in \/etc\/iptables/);
      expect(fs.readFileSync(path.join(fresh, 'etc/iptables/rules.v4'), 'utf8')).to.equal(OLD_RULES);
      expect(fs.existsSync(path.join(fresh, 'etc/iptables/rules.v6')), 'rules.v6 did not exist before').to.equal(false);
      expect(await rules()).to.equal(kernel);
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
    const r = await installer(['--root', lab.root, '--uninstall', '--apply']);
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(fs.readFileSync(R('etc/iptables/rules.v4'), 'utf8')).to.equal(OLD_RULES);
    for (const f of ['etc/systemd/system/tm3-firewall.service', 'etc/systemd/system/tm3-refresh.timer', 'etc/network/if-up.d/tm3', 'usr/local/sbin/tm3', 'usr/local/lib/tm3', 'root/add-ip', 'etc/knockd.conf']) {
      expect(fs.existsSync(R(f)), f).to.equal(false);
    }
    expect((await lab.exec(lab.server.ns, 'ipset', ['list', '-n'])).stdout).not.to.match(/tm3-/);
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
