import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { Lab, CLI, DNS_DOMAIN, type Host, type SinkPacket } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { kernelSnapshot, storeSnapshot } from './snapshots.js';

// Invariant 8 after installation: an admin's live SSH session (a real TCP session to tcp/22 from
// the admin's client) is never cut off by a command an admin types, unless forced; on a
// terminal a forced cut that is not confirmed rolls back. Changes nobody typed still happen.

const HOME = `adminhome.${DNS_DOMAIN}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('no lockout: every command guards the admin SSH session (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  let admin: Host, other: Host;
  let sink: { packets: SinkPacket[]; from: (src: string, proto?: 'tcp' | 'udp') => SinkPacket[] };
  let session: { stop: () => Promise<unknown> } | undefined;

  const ok = async (args: string[], env: Record<string, string> = {}) => {
    const r = await lab.tm3(args, { env });
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const config = (extra: string) => { lab.writeConfig(); fs.appendFileSync(path.join(lab.root, 'etc/tm3/tm3.conf'), extra); };
  /** Does the admin's session still get packets through? (sent every 200 ms) */
  const sessionAlive = async (withinMs = 700) => {
    const t = Date.now();
    for (let waited = 0; waited < withinMs; waited += 100) {
      await sleep(100);
      if (sink.from(admin.v4, 'tcp').some((p) => p.t > t)) return true;
    }
    return false;
  };
  /** A refusal: exit 2, one line naming the access and --force, and nothing changed anywhere. */
  const refused = async (args: string[], names: RegExp, env: Record<string, string> = {}) => {
    const [k, s] = [await kernelSnapshot(lab), storeSnapshot(lab, ['root', 'etc/iptables'])];
    const r = await lab.tm3(args, { env });
    expect(r.exitCode, `tm3 ${args.join(' ')}: ${r.stderr}`).to.equal(2);
    expect(r.stderr).to.match(/would lock out the admin session from 192\.0\.2\.10 \(SSH tcp\/22, reached through /);
    expect(r.stderr).to.match(names);
    expect(r.stderr).to.match(/--force/);
    expect(await kernelSnapshot(lab), 'the kernel is unchanged').to.equal(k);
    expect(storeSnapshot(lab, ['root', 'etc/iptables']), 'the files are unchanged').to.equal(s);
    expect(await sessionAlive(), 'the admin session still flows').to.equal(true);
  };
  /** What is left of a tm3 run, for the failure message. */
  const leftovers = async () => (await execa('ps', ['-eo', 'pid,ppid,sid,stat,tty,args'], { reject: false })).stdout.split('\n').filter((l) => l.includes(CLI)).join(' | ') || 'no tm3 process';
  const onTty = (args: string[]) => execa('script', ['-qec', ['ip', 'netns', 'exec', lab.server.ns, process.execPath, CLI, '--root', lab.root, ...args].join(' '), '/dev/null'], { input: '', reject: false, env: { TM3_NO_SYSLOG: '1' } });

  before(async function () {
    requireLab(this, ['script']);
    lab = await Lab.create(2);
    [admin, other] = lab.clients;
    sink = await lab.startSink([22], [5060]);
    await lab.startDns({ [HOME]: [admin.v4] });
    config('');
    await ok(['restart']);
    await ok(['add-ip', 'admin', admin.v4, '--services', 'ssh']);
    await ok(['add-ip', 'other', other.v4, '--services', 'ssh']);
    session = await lab.flow(admin, 4, 'tcp', 22);
    expect(await sessionAlive()).to.equal(true);
  });
  after(async () => { await session?.stop(); await lab?.destroy(); });

  it('del-acct of the entry the admin is connected through is refused, by name or by address', async () => {
    await refused(['del-acct', 'admin'], /entry admin/);
    await refused(['del-acct', admin.v4], /entry admin/);
  });

  it('--replace that narrows it is refused', async () => {
    await refused(['add-ip', 'admin', admin.v4, '--services', 'sip', '--replace'], /entry admin/);
  });

  it('is allowed while another entry still gives the admin SSH, and refused for the last one', async () => {
    await ok(['add-ip', 'office', '192.0.2.0/24', '--services', 'ssh']);
    await ok(['del-acct', 'admin']);
    expect(await sessionAlive()).to.equal(true);
    await refused(['del-acct', 'office'], /entry office/);
    await ok(['add-ip', 'admin', admin.v4, '--services', 'ssh']);
    await ok(['del-acct', 'office']);
  });

  it('a restart after narrowing [firewall] trusted under the session is refused, naming the setting', async () => {
    config('[firewall]\ntrusted = 127.0.0.0/8, 192.0.2.0/24, ::1\n');
    await ok(['restart']);
    await ok(['del-acct', 'admin']);
    config('');
    await refused(['restart'], /\[firewall\] trusted 192\.0\.2\.0\/24/);
    config('[firewall]\ntrusted = 127.0.0.0/8, 192.0.2.0/24, ::1\n');
    await ok(['add-ip', 'admin', admin.v4, '--services', 'ssh']);
    config('');
    await ok(['restart']);
  });

  it("access that an ADMIN SECTION line gives (the original's way) does not make a restart look like a lockout", async () => {
    const file = path.join(lab.root, 'usr/local/sbin/iptables-custom');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.replace('# <<< END ADMIN SECTION <<<', `iptables -A INPUT -s ${admin.v4} -p tcp --dport 22 -j ACCEPT\n# <<< END ADMIN SECTION <<<`));
    await ok(['restart']);
    await ok(['del-acct', 'admin']);
    await ok(['restart']);
    expect(await sessionAlive()).to.equal(true);
    await ok(['add-ip', 'admin', admin.v4, '--services', 'ssh']);
    fs.writeFileSync(file, text);
    await ok(['restart']);
  });

  it('a rule typed by hand (not in the ADMIN SECTION) does not survive a restart, so the guard does not count on it', async () => {
    const rule = ['INPUT', '-s', admin.v4, '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT'];
    await lab.exec(lab.server.ns, 'iptables', ['-I', ...rule]);
    try {
      await ok(['del-acct', 'admin']);
      await refused(['restart'], /the rule '-A INPUT -s 192\.0\.2\.10\/32/);
    } finally {
      await ok(['add-ip', 'admin', admin.v4, '--services', 'ssh']);
      await lab.exec(lab.server.ns, 'iptables', ['-D', ...rule]);
    }
  });

  it('knock revoke of the grant the admin is connected through is refused', async () => {
    await ok(['knock', 'grant', admin.v4]);
    await ok(['del-acct', 'admin']);
    await refused(['knock', 'revoke', admin.v4], /a live knock grant/);
    await refused(['knock', 'revoke', '--all'], /a live knock grant/);
    await ok(['add-ip', 'admin', admin.v4, '--services', 'ssh']);
    await ok(['knock', 'revoke', '--all']);
  });

  it('SSH_CONNECTION names an admin too, with no session visible', async () => {
    const env = { SSH_CONNECTION: `${other.v4} 50022 ${lab.server.v4} 22` };
    const r = await lab.tm3(['del-acct', 'other'], { env });
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(/lock out the admin session from 192\.0\.2\.20 \(SSH tcp\/22, reached through entry other\)/);
  });

  it('on a terminal, --force that is not confirmed rolls back kernel and files; the session flows again', async () => {
    const [k, s] = [await kernelSnapshot(lab), storeSnapshot(lab, ['root', 'etc/iptables'])];
    const r = await onTty(['del-acct', 'admin', '--yes', '--force', '--confirm-seconds', '3']);
    expect(r.stdout).to.match(/Type "yes" within 3 s/);
    expect(r.stdout + r.stderr).to.match(/not confirmed within 3 s \(or the session hung up\): the change was rolled back/);
    expect(r.exitCode).to.equal(1);
    expect(await kernelSnapshot(lab)).to.equal(k);
    expect(storeSnapshot(lab, ['root', 'etc/iptables'])).to.equal(s);
    expect(await sessionAlive(8000)).to.equal(true);
  });

  it('a forced change whose terminal hangs up in the confirmation window (sshd dropping a frozen session) rolls back', async () => {
    const [k, s] = [await kernelSnapshot(lab), storeSnapshot(lab, ['root', 'etc/iptables'])];
    const p = execa('script', ['-qec', ['ip', 'netns', 'exec', lab.server.ns, process.execPath, CLI, '--root', lab.root, 'del-acct', 'admin', '--yes', '--force', '--confirm-seconds', '30'].join(' '), '/dev/null'], { reject: false, env: { TM3_NO_SYSLOG: '1' } });
    let seen = '';
    p.stdout?.on('data', (d: Buffer) => { seen += d.toString(); });
    for (let i = 0; i < 100 && !seen.includes('Type "yes"'); i++) await sleep(100);
    expect(seen).to.include('Type "yes" within 30 s');
    expect(await sessionAlive(), 'the forced change cut the session').to.equal(false);
    const t = Date.now();
    p.kill('SIGKILL'); // the terminal goes away: the kernel hangs up its pty
    await p;
    for (let i = 0; i < 100 && (await kernelSnapshot(lab)) !== k; i++) await sleep(100);
    console.log(`      rolled back ${Date.now() - t} ms after the hang-up`);
    expect(await kernelSnapshot(lab), `still running: ${await leftovers()}`).to.equal(k);
    expect(storeSnapshot(lab, ['root', 'etc/iptables'])).to.equal(s);
    expect(await sessionAlive(8000)).to.equal(true);
  });

  it('a forced change whose parent dies in the confirmation window, with no hang-up reaching it, rolls back', async () => {
    const [k, s] = [await kernelSnapshot(lab), storeSnapshot(lab, ['root', 'etc/iptables'])];
    // The terminal stays up and its session leader lives on: only the shell between them dies, so
    // no SIGHUP or EIO reaches tm3 (as in sandboxes whose ptys never hang up). Neither shell
    // execs its last command, so the inner one is tm3's parent and not the session leader.
    const tm3 = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, CLI, '--root', lab.root, 'del-acct', 'admin', '--yes', '--force', '--confirm-seconds', '30'].join(' ');
    fs.writeFileSync(path.join(lab.root, 'parent.sh'), `echo shell=$$\n${tm3}\ntrue\n`);
    const p = execa('script', ['-qec', `sh ${path.join(lab.root, 'parent.sh')}; sleep 30`, '/dev/null'], { reject: false, env: { TM3_NO_SYSLOG: '1' } });
    let seen = '';
    p.stdout?.on('data', (d: Buffer) => { seen += d.toString(); });
    try {
      for (let i = 0; i < 100 && !seen.includes('Type "yes"'); i++) await sleep(100);
      expect(seen).to.include('Type "yes" within 30 s');
      const shell = Number(/shell=(\d+)/.exec(seen)?.[1]);
      expect(shell).to.be.greaterThan(1);
      const t = Date.now();
      process.kill(shell, 'SIGKILL');
      for (let i = 0; i < 100 && (await kernelSnapshot(lab)) !== k; i++) await sleep(100);
      console.log(`      rolled back ${Date.now() - t} ms after its parent died`);
      expect(await kernelSnapshot(lab), `still running: ${await leftovers()}`).to.equal(k);
      expect(storeSnapshot(lab, ['root', 'etc/iptables'])).to.equal(s);
      expect(await sessionAlive(8000)).to.equal(true);
    } finally {
      p.kill('SIGKILL');
      await p;
    }
  });

  it('on a terminal, a forced restart that is not confirmed rolls back kernel and files too', async () => {
    const [k, s] = [await kernelSnapshot(lab), storeSnapshot(lab, ['root', 'etc/iptables', 'usr/local/sbin'])];
    config('[firewall]\ntrusted = 127.0.0.0/8, ::1\n[services]\nssh = tcp/2222\n');
    const r = await onTty(['restart', '--force', '--confirm-seconds', '3']);
    expect(r.stdout + r.stderr).to.match(/not confirmed within 3 s \(or the session hung up\): the change was rolled back/);
    expect(await kernelSnapshot(lab)).to.equal(k);
    expect(storeSnapshot(lab, ['root', 'etc/iptables', 'usr/local/sbin'])).to.equal(s);
    expect(await sessionAlive(8000)).to.equal(true);
    config('');
  });

  it('a refresh that moves the name the admin came through is not refused: the old address is shut out', async () => {
    await ok(['add-fqdn', 'home', HOME, '--services', 'ssh']);
    await ok(['del-acct', 'admin']);
    await lab.setDns({ [HOME]: [other.v4] });
    await ok(['refresh']);
    expect(await sessionAlive(), 'the moved name no longer admits its old address').to.equal(false);
    await lab.setDns({ [HOME]: [admin.v4] });
    await ok(['refresh']);
    // a stalled TCP session comes back at its next retransmission (exponential backoff)
    expect(await sessionAlive(8000)).to.equal(true);
  });

  it('without a terminal, --force goes ahead: the session is cut', async () => {
    await ok(['del-acct', 'home', '--force']);
    expect(await sessionAlive()).to.equal(false);
  });
});

describe('no lockout: tm3 migrate --apply on a box the admin reached without a whitelist entry (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let session: { stop: () => Promise<unknown> } | undefined;

  before(async function () {
    requireLab(this);
    lab = await Lab.create(1);
    await lab.startSink([22], []);
    lab.writeConfig();
    // the legacy firewall whitelists an office network only; the kernel is still open (policy ACCEPT)
    fs.mkdirSync(path.join(lab.root, 'etc/iptables'), { recursive: true });
    fs.writeFileSync(path.join(lab.root, 'etc/iptables/rules.v4'), '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -s 198.51.100.0/24 -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n');
    session = await lab.flow(lab.clients[0], 4, 'tcp', 22);
  });
  after(async () => { await session?.stop(); await lab?.destroy(); });

  it('the migration is written, but its apply is refused before the kernel changes', async () => {
    const before = await kernelSnapshot(lab);
    const r = await lab.tm3(['migrate', '--apply']);
    expect(r.exitCode, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/this restart would lock out the admin session from 192\.0\.2\.10 \(SSH tcp\/22, reached through INPUT policy ACCEPT\)/);
    expect(r.stderr).to.match(/--force/);
    expect(await kernelSnapshot(lab)).to.equal(before);
    expect(fs.readdirSync(path.join(lab.root, 'root')).filter((f) => f.endsWith('.iptables')), 'the migrated entries are on disk').to.have.length.greaterThan(0);
  });
});
