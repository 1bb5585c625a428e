import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { expect } from 'chai';
import { Lab, CLI, DNS_DOMAIN } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { kernelSnapshot, storeSnapshot } from './snapshots.js';
import { ADMIN_BEGIN, ADMIN_END } from '../../src/plan/admin-section.js';

// Issue 16, "Undo and safety of everyday edits": del-acct asks and keeps what it deletes,
// tm3 restore brings it back, --replace shows the old value, restart --dry-run shows the rule
// diff and restart names a failing ADMIN SECTION line; swapped arguments are refused.

describe('everyday edits: undo and safety (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  const deleted = () => path.join(lab.root, 'var/backups/tm3/deleted');

  /** tm3 on a real terminal (script(1) gives it a pty), the answers typed through a pipe. */
  const onTerminal = (args: string[], input: string) => {
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const cmd = ['ip', 'netns', 'exec', lab.server.ns, process.execPath, CLI, '--root', lab.root, ...args].map(quote).join(' ');
    return execa('script', ['-qec', cmd, '/dev/null'], { input, reject: false, timeout: 30_000, env: { TM3_NO_SYSLOG: '1', LC_ALL: 'C', NO_COLOR: '1' } });
  };
  const unchanged = async (run: () => Promise<{ exitCode?: number; stderr: string; stdout: string }>, code: number, message: RegExp) => {
    const [k, s] = [await kernelSnapshot(lab), storeSnapshot(lab, ['root', 'etc/iptables'])];
    const r = await run();
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(code);
    expect(`${r.stdout}\n${r.stderr}`).to.match(message);
    expect(await kernelSnapshot(lab)).to.equal(k);
    expect(storeSnapshot(lab, ['root', 'etc/iptables'])).to.equal(s);
    return r;
  };

  before(async function () {
    requireLab(this);
    lab = await Lab.create(2);
    lab.writeConfig();
    const r = await lab.tm3(['restart']);
    expect(r.exitCode, r.stderr).to.equal(0);
    await lab.startResponder();
  });
  after(async () => { await lab?.destroy(); });

  describe('swapped or missing arguments', () => {
    const cases: [string[], RegExp][] = [
      [['add-ip', '203.0.113.5', 'home'], /the name and the address are swapped \(fix: tm3 add-ip home 203\.0\.113\.5/],
      [['add-ip', '2001:db8::5', 'home'], /swapped \(fix: tm3 add-ip home 2001:db8::5/],
      [['add-ip', '203.0.113.5'], /the entry name is missing.*\(fix: tm3 add-ip NAME 203\.0\.113\.5/],
      [['add-ip', 'home'], /the address is missing \(fix: tm3 add-ip home ADDRESS/],
      [['add-fqdn', 'home.dyn.example.net', 'home'], /swapped \(fix: tm3 add-fqdn home home\.dyn\.example\.net/],
      [['add-fqdn', 'home.dyn.example.net'], /the entry name is missing.*\(fix: tm3 add-fqdn NAME home\.dyn\.example\.net/],
    ];
    for (const [args, message] of cases) {
      it(`tm3 ${args.join(' ')}: one line with the right form, exit 2, nothing changed`, async () => {
        const r = await unchanged(() => lab.tm3(args), 2, message);
        expect(r.stderr.trim().split('\n')).to.have.length(1);
      });
    }
  });

  it('--replace says what it replaces, with --dry-run and for real', async () => {
    expect((await lab.tm3(['add-ip', 'desk', '198.51.100.40', '--services', 'sip'])).exitCode).to.equal(0);
    const dry = await lab.tm3(['add-ip', 'desk', '198.51.100.41', '--services', 'web', '--replace', '--dry-run']);
    expect(dry.exitCode, dry.stderr).to.equal(0);
    expect(dry.stdout).to.match(/would replace desk: 198\.51\.100\.40\/32 for sip, source admin, added 0m ago/);
    const real = await lab.tm3(['add-ip', 'desk', '198.51.100.41', '--services', 'web', '--replace']);
    expect(real.exitCode, real.stderr).to.equal(0);
    expect(real.stdout).to.match(/whitelisted desk: 198\.51\.100\.41\/32 for web; it replaced 198\.51\.100\.40\/32 for sip, source admin/);
    expect((await lab.tm3(['del-acct', 'desk'])).exitCode).to.equal(0);
  });

  it('restart names a failing ADMIN SECTION line with its error, logs it, exits 1, and the firewall stays closed', async () => {
    const custom = path.join(lab.root, 'usr/local/sbin/iptables-custom');
    const good = fs.readFileSync(custom, 'utf8');
    const [client, other] = lab.clients;
    try {
      const start = good.indexOf(`${ADMIN_BEGIN}\n`) + ADMIN_BEGIN.length + 1;
      // a typo in an address, then a line that works: the typo fails alone, and says so
      const body = `/sbin/iptables -A INPUT -s 203.0.113.300 -p tcp --dport 80 -j ACCEPT\niptables -A INPUT -s ${client.v4} -p tcp --dport 22 -j ACCEPT\n`;
      fs.writeFileSync(custom, good.slice(0, start) + body + good.slice(good.indexOf(ADMIN_END)));
      const line = good.slice(0, start).split('\n').length;
      const r = await lab.tm3(['restart']);
      expect(r.exitCode, r.stderr).to.equal(1);
      expect(r.stderr).to.include(`tm3: warning: ADMIN SECTION line ${line} of /usr/local/sbin/iptables-custom failed: /sbin/iptables -A INPUT -s 203.0.113.300 -p tcp --dport 80 -j ACCEPT: `);
      expect(r.stderr).to.match(/203\.0\.113\.300.*not found/);
      expect(r.stderr).to.not.match(new RegExp(`line ${line + 1} `));
      expect(r.stdout).to.match(/iptables-custom 1 ADMIN SECTION line\(s\) failed/).and.not.match(/iptables-custom ok/);
      expect(r.stderr).to.match(/tm3: 1 ADMIN SECTION line\(s\) of \/usr\/local\/sbin\/iptables-custom failed \(named above\); the rest of the firewall is in force \(fix: correct those lines/);
      // what worked is in force, and nobody else got in
      expect(await lab.reaches(client, 'tcp', 22)).to.equal(true);
      expect(await lab.reaches(other, 'tcp', 22)).to.equal(false);
      expect(await lab.reaches(other, 'tcp', 80)).to.equal(false);
      const warn = await lab.tm3(['restart', '--admin-failures', 'warn']);
      expect(warn.exitCode, warn.stderr).to.equal(0);
      expect(warn.stderr).to.include(`ADMIN SECTION line ${line} of /usr/local/sbin/iptables-custom failed`);
    } finally {
      fs.writeFileSync(custom, good);
      expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    }
    expect(await lab.reaches(client, 'tcp', 22)).to.equal(false);
  });

  it('sip-tcp follows an override of sip (a real packet to the new port passes, the old one does not), or a warning says it did not', async () => {
    const [client] = lab.clients;
    const dropin = path.join(lab.root, 'etc/tm3/tm3.conf.d/50-sip.conf');
    fs.mkdirSync(path.dirname(dropin), { recursive: true });
    try {
      fs.writeFileSync(dropin, '[services]\nsip = udp/5080, tcp/5080\n');
      expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
      const add = await lab.tm3(['add-ip', 'trunk', client.v4, '--services', 'sip-tcp']);
      expect(add.exitCode, add.stderr).to.equal(0);
      expect(add.stderr).to.equal('');
      expect(await lab.reaches(client, 'tcp', 5080)).to.equal(true);
      expect(await lab.reaches(client, 'tcp', 5060)).to.equal(false);
      fs.writeFileSync(dropin, '[services]\nsip = udp/5080\n');
      const r = await lab.tm3(['list']);
      expect(r.stderr).to.match(/tm3: warning: \[services\] sip has no tcp port, so sip-tcp keeps tcp\/5060:5069; set sip-tcp in \[services\]/);
    } finally {
      fs.rmSync(dropin, { force: true });
      await lab.tm3(['del-acct', 'trunk']);
      expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    }
  });

  it('restart --dry-run shows the rule and set diff against the kernel after a change by hand, and changes nothing', async () => {
    const quiet = await lab.tm3(['restart', '--dry-run']);
    expect(quiet.exitCode, quiet.stderr).to.equal(0);
    expect(quiet.stdout).to.include("tm3's IPv4 rules in the kernel are as planned").and.include("tm3's IPv6 rules in the kernel are as planned").and.include('no set would change');
    // by hand: the jump to the whitelist chain deleted, IPv6 FORWARD opened, a stranger put in a set
    await lab.exec(lab.server.ns, 'iptables', ['-D', 'INPUT', '-m', 'comment', '--comment', 'tm3', '-j', 'TM3-WHITELIST']);
    await lab.exec(lab.server.ns, 'ip6tables', ['-P', 'FORWARD', 'ACCEPT']);
    await lab.exec(lab.server.ns, 'ipset', ['add', 'tm3-ssh-4', '203.0.113.9']);
    try {
      const r = await unchanged(() => lab.tm3(['restart', '--dry-run']), 0, /would change tm3's IPv4 rules in the kernel/);
      expect(r.stdout).to.match(/^\+-A INPUT -m comment --comment tm3 -j TM3-WHITELIST$/m);
      expect(r.stdout).to.match(/^--P FORWARD ACCEPT$/m).and.match(/^\+-P FORWARD DROP$/m);
      expect(r.stdout).to.match(/- 203\.0\.113\.9\/32 from tm3-ssh-4/);
      const json = JSON.parse((await lab.tm3(['restart', '--dry-run', '--json'])).stdout);
      expect(json.diff.sets).to.deep.equal(['- 203.0.113.9/32 from tm3-ssh-4']);
      expect(json.diff.rules.map((x: { diff: string }) => x.diff !== '')).to.deep.equal([true, true]);
    } finally {
      expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    }
    expect((await lab.tm3(['restart', '--dry-run'])).stdout).to.include("tm3's IPv4 rules in the kernel are as planned").and.include('no set would change');
  });

  it('restart --dry-run names a rule typed by hand, which the restart then removes', async () => {
    const rule = ['-s', '203.0.113.9', '-p', 'tcp', '--dport', '8088', '-j', 'ACCEPT'];
    await lab.exec(lab.server.ns, 'iptables', ['-A', 'INPUT', ...rule]);
    const r = await unchanged(() => lab.tm3(['restart', '--dry-run']), 0, /would remove 1 IPv4 rule\(s\) made by hand/);
    expect(r.stdout).to.match(/^ {2}-A INPUT -s 203\.0\.113\.9\/32 -p tcp -m tcp --dport 8088 -j ACCEPT$/m);
    expect(r.stdout).not.to.match(/IPv6 rule\(s\) made by hand/);
    const json = JSON.parse((await lab.tm3(['restart', '--dry-run', '--json'])).stdout);
    expect(json.diff.gone).to.deep.equal([{ family: 4, rules: ['-A INPUT -s 203.0.113.9/32 -p tcp -m tcp --dport 8088 -j ACCEPT'] }, { family: 6, rules: [] }]);
    // and the dry run told the truth: the restart removes it
    expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    expect((await lab.exec(lab.server.ns, 'iptables', ['-S', 'INPUT'])).stdout).not.to.include('203.0.113.9');
    expect((await lab.tm3(['restart', '--dry-run'])).stdout).not.to.match(/made by hand/);
  });

  it('restart --dry-run shows the diff of the saved rules files too', async () => {
    const v4 = path.join(lab.root, 'etc/iptables/rules.v4');
    const good = fs.readFileSync(v4, 'utf8');
    try {
      fs.writeFileSync(v4, good.replace(/^:INPUT DROP/m, ':INPUT ACCEPT'));
      const r = await unchanged(() => lab.tm3(['restart', '--dry-run']), 0, /would change \/etc\/iptables\/rules\.v4:/);
      expect(r.stdout).to.match(/^-:INPUT ACCEPT/m).and.match(/^\+:INPUT DROP/m);
    } finally {
      fs.writeFileSync(v4, good);
    }
  });

  describe('del-acct keeps what it deletes, and tm3 restore brings it back', () => {
    it('on a terminal: the picker shows address, services, source and age; "n" deletes nothing', async () => {
      const [client] = lab.clients;
      expect((await lab.tm3(['add-ip', 'phone', client.v4, '--services', 'ssh'])).exitCode).to.equal(0);
      expect(await lab.reaches(client, 'tcp', 22)).to.equal(true);
      const r = await unchanged(() => onTerminal(['del-acct'], 'phone\nn\n'), 2, /nothing deleted/);
      expect(r.stdout).to.match(/1\) phone\s+192\.0\.2\.10\/32 for ssh, source admin, added 0m ago/);
      expect(r.stdout).to.match(/This removes:\s+entry phone: 192\.0\.2\.10\/32 for ssh/);
      expect(r.stdout).to.match(/Delete\? \[y\/N\]/);
      expect(await lab.reaches(client, 'tcp', 22)).to.equal(true);
    });

    it('"y" deletes, keeps the file (600, in a 700 directory) and prints the restore command; restore lets packets in again', async () => {
      const [client] = lab.clients;
      const before = fs.readFileSync(path.join(lab.root, 'root/phone.iptables'), 'utf8');
      const r = await onTerminal(['del-acct', 'phone'], 'y\n');
      expect(r.exitCode, r.stdout).to.equal(0);
      expect(await lab.reaches(client, 'tcp', 22)).to.equal(false);
      const m = /kept phone in (\/var\/backups\/tm3\/deleted\/(\S+)\.iptables); to bring it back: tm3 --root \S+ restore (\S+)/.exec(r.stdout);
      expect(m, r.stdout).to.not.equal(null);
      const [, file, id, shownId] = m!;
      expect(shownId).to.equal(id);
      const kept = path.join(lab.root, file);
      expect(fs.readFileSync(kept, 'utf8')).to.equal(before);
      expect(fs.statSync(kept).mode & 0o777).to.equal(0o600);
      expect(fs.statSync(deleted()).mode & 0o777).to.equal(0o700);

      const list = await lab.tm3(['restore', '--list', '--json']);
      expect(JSON.parse(list.stdout)).to.deep.include({ id, name: 'phone', deletedAt: JSON.parse(list.stdout)[0].deletedAt, file, value: '192.0.2.10/32 for ssh', source: 'admin' });

      const dry = await unchanged(() => lab.tm3(['restore', id, '--dry-run']), 0, /would write .*phone\.iptables/);
      expect(dry.stdout).to.match(/\+ 192\.0\.2\.10\/32 in tm3-ssh-4/);
      const back = await lab.tm3(['restore', id]);
      expect(back.exitCode, back.stderr).to.equal(0);
      expect(back.stdout).to.match(/restored phone: 192\.0\.2\.10\/32 for ssh/);
      expect(await lab.reaches(client, 'tcp', 22)).to.equal(true);
      expect(fs.existsSync(kept)).to.equal(false);
    });

    it('restore refuses when an entry of that name exists again, and says how', async () => {
      const r1 = await lab.tm3(['del-acct', 'phone']);
      expect(r1.exitCode, r1.stderr).to.equal(0);
      const id = /restore (\S+)/.exec(r1.stdout)![1];
      expect((await lab.tm3(['add-ip', 'phone', lab.clients[1].v4, '--services', 'ssh'])).exitCode).to.equal(0);
      await unchanged(() => lab.tm3(['restore', 'phone']), 2, new RegExp(`an entry named phone exists again \\(fix: .*tm3 del-acct phone first .*then tm3 restore ${id}`));
      expect((await lab.tm3(['del-acct', 'phone'])).exitCode).to.equal(0);
    });

    it('a name entry comes back too, looked up again', async () => {
      const [, other] = lab.clients;
      await lab.startDns({ [`pc.${DNS_DOMAIN}`]: [other.v4] });
      expect((await lab.tm3(['add-fqdn', 'pc', `pc.${DNS_DOMAIN}`, '--services', 'ssh'])).exitCode).to.equal(0);
      expect(await lab.reaches(other, 'tcp', 22)).to.equal(true);
      const del = await lab.tm3(['del-acct', 'pc']);
      expect(del.exitCode, del.stderr).to.equal(0);
      expect(await lab.reaches(other, 'tcp', 22)).to.equal(false);
      const back = await lab.tm3(['restore', 'pc']);
      expect(back.exitCode, back.stderr).to.equal(0);
      expect(back.stdout).to.include(`restored pc: pc.${DNS_DOMAIN} (${other.v4}/32) for ssh`);
      expect(await lab.reaches(other, 'tcp', 22)).to.equal(true);
      expect((await lab.tm3(['del-acct', 'pc', '--yes'])).exitCode).to.equal(0);
      await lab.stopDns();
    });

    it('a kept file that is a symlink, or garbage, is refused; a symlink planted as the directory is never written through, and the removal still happens', async () => {
      const [client] = lab.clients;
      // the first phone (client 1) is still kept; the second one was kept too: restore the first by id
      const ids = JSON.parse((await lab.tm3(['restore', '--list', '--json'])).stdout) as { id: string; value?: string }[];
      const first = ids.find((b) => b.value === '192.0.2.10/32 for ssh')!;
      // a planted link where a kept file was: never followed
      const target = path.join(lab.root, 'planted.iptables');
      fs.writeFileSync(target, '[entry]\naddress = 0.0.0.0/1\nservices = all\n', { mode: 0o600 });
      const linkId = '20991231T235959Z-evil';
      fs.symlinkSync(target, path.join(deleted(), `${linkId}.iptables`));
      await unchanged(() => lab.tm3(['restore', linkId]), 2, /is not restored: it is a symbolic link/);
      // garbage in a kept file is refused like a garbage entry file
      const junk = path.join(deleted(), '20991231T235958Z-junk.iptables');
      fs.writeFileSync(junk, '[entry]\naddress = 203.0.113.300\n', { mode: 0o600 });
      await unchanged(() => lab.tm3(['restore', '20991231T235958Z-junk']), 2, /is not a valid entry/);
      fs.rmSync(junk);
      fs.rmSync(path.join(deleted(), `${linkId}.iptables`));

      // the whole directory replaced by a link to somewhere else: nothing is written through it, and
      // the entry still goes (a removed person's access never waits on the undo copy)
      expect((await lab.tm3(['restore', first.id])).exitCode).to.equal(0);
      expect(await lab.reaches(client, 'tcp', 22)).to.equal(true);
      const aside = path.join(lab.root, 'aside');
      fs.renameSync(deleted(), aside);
      const elsewhere = path.join(lab.root, 'elsewhere');
      fs.mkdirSync(elsewhere);
      fs.symlinkSync(elsewhere, deleted());
      const r = await lab.tm3(['del-acct', 'phone']);
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/phone is removed but not kept for tm3 restore: .*deleted is a symbolic link.*\(fix: .*remove the link/);
      expect(fs.readdirSync(elsewhere)).to.deep.equal([]);
      expect(await lab.reaches(client, 'tcp', 22)).to.equal(false);
      expect(fs.existsSync(path.join(lab.root, 'root/phone.iptables'))).to.equal(false);
      fs.rmSync(deleted());
      fs.renameSync(aside, deleted());
    });
  });
});
