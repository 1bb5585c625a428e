import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { setIniValue } from '../../src/installer/conf-edit.js';
import { parseContact } from '../../src/model/contact.js';
import { tm3Command, INSTALLED_CLI } from '../../src/tm3-command.js';
import { knockFiles } from '../../src/plan/knock-files.js';
import { loadConfig } from '../../src/store/config.js';
import { Paths } from '../../src/store/paths.js';
import { readKnockState, writeKnockState } from '../../src/store/knock-state.js';
import { sequenceStillFree } from '../../src/model/knock.js';
import { render } from '../../src/plan/render.js';

const tmpRoot = (files: Record<string, string> = {}) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-inst-unit-'));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
};

describe('tm3.conf edits on a re-run keep everything else', () => {
  const admin = '# my notes\n[knock]\n; interface =\ngrant_seconds = 600   ; short, on purpose\n\n[fail2ban]\nmaxretry = 7\n';
  const cases: [string, string, string, string, string][] = [
    ['an active key is replaced in place', '[knock]\ninterface = eth0\ngrant_seconds = 60\n', 'knock', 'interface', '[knock]\ninterface = eth1\ngrant_seconds = 60\n'],
    ['a commented key gets the value right under it', admin, 'knock', 'interface', admin.replace('; interface =\n', '; interface =\ninterface = eth1\n')],
    ['a key the section lacks goes at its top', '[server]\n; other = x\n', 'server', 'public_address', '[server]\npublic_address = eth1\n; other = x\n'],
    ['a missing section is appended', admin, 'server', 'public_address', `${admin}\n[server]\npublic_address = eth1\n`],
    ['duplicates: the last one (the one INI uses) changes, earlier ones go', '[knock]\ninterface = a\nx = 1\ninterface = b\n', 'knock', 'interface', '[knock]\nx = 1\ninterface = eth1\n'],
    ['the same key in another section is left alone', '[dns]\ninterface = z\n[knock]\ninterface = a\n', 'knock', 'interface', '[dns]\ninterface = z\n[knock]\ninterface = eth1\n'],
  ];
  for (const [what, before, section, key, after] of cases) {
    it(what, () => expect(setIniValue(before, section, key, 'eth1')).to.equal(after));
  }

  it('the result loads, with the admin keys still in force', async () => {
    const text = setIniValue(setIniValue(admin, 'knock', 'interface', 'eth1'), 'server', 'public_address', '203.0.113.9');
    const root = tmpRoot({ 'etc/tm3/tm3.conf': text });
    try {
      const c = await loadConfig(new Paths(root));
      expect([c.knock.interface, c.knock.grantSeconds, c.fail2ban.maxretry, c.server.publicAddress]).to.deep.equal(['eth1', 600, 7, '203.0.113.9']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the admin contact', () => {
  it('takes a name, a phone number and an e-mail address on one line', () => {
    expect(parseContact('  Ann Smith,  +1 555 0100, it@example.com ')).to.equal('Ann Smith, +1 555 0100, it@example.com');
    expect(parseContact('Zoë Müller (IT)')).to.equal('Zoë Müller (IT)');
  });
  it('refuses what would break tm3.conf or knock.FAQ, with the fix', () => {
    for (const bad of ['Ann; rm -rf /', 'a # b', 'x = y', '[server]', 'a\nb', '"Ann"', '', 'x'.repeat(121), '\u001b[31mred']) {
      expect(() => parseContact(bad), JSON.stringify(bad)).to.throw(/not one plain line.*/);
    }
  });
  it('is written to tm3.conf, and tm3.conf reads it back', async () => {
    const text = render('tm3.conf', { version: '0.2.0', interface: 'eth0', publicIp: undefined, adminContact: 'Ann Smith, +1 555 0100' });
    expect(text).to.match(/^admin_contact = Ann Smith, \+1 555 0100$/m);
    const root = tmpRoot({ 'etc/tm3/tm3.conf': text });
    try {
      expect((await loadConfig(new Paths(root))).server.adminContact).to.equal('Ann Smith, +1 555 0100');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('generated files call the installed tm3', () => {
  it('names /usr/local/lib/tm3 under the root once it is there, whatever copy runs', () => {
    const root = tmpRoot({ [INSTALLED_CLI]: '// installed\n' });
    try {
      const cmd = tm3Command(root);
      expect(cmd).to.equal(`${process.execPath} ${path.join(root, INSTALLED_CLI)} --root ${root}`);
      fs.rmSync(path.join(root, 'usr'), { recursive: true });
      // nothing installed (a lab, a bare --root): only then the running copy
      expect(tm3Command(root)).not.to.include(`${root}/usr`);
      expect(tm3Command(root)).to.match(/\/cli\/main\.js --root /);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('knock.FAQ, for someone who is not an admin', () => {
  const faq = async (server: string, opts: { addressKnown?: boolean; contact?: string } = {}) => {
    const root = tmpRoot(opts.contact ? { 'etc/tm3/tm3.conf': `[server]\nadmin_contact = ${opts.contact}\n` } : {});
    try {
      const paths = new Paths(root);
      const files = knockFiles(await loadConfig(paths), paths, { sequence: [23768, 62019, 58238], permanent: false, interface: 'eth0', server, tm3: '/usr/local/sbin/tm3', addressKnown: opts.addressKnown });
      return files.find((f) => f.path === paths.knockFaq)!.text;
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  };

  it('has recipes for Windows, Mac/Linux (nmap with -n) and phones, each with the ports in order', async () => {
    const text = await faq('203.0.113.9', { contact: 'Ann Smith, +1 555 0100' });
    expect(text).to.include("foreach ($p in 23768,62019,58238) { $c = New-Object Net.Sockets.TcpClient; try { [void]$c.ConnectAsync('203.0.113.9', $p).Wait(500) } catch {}; $c.Dispose() }");
    expect(text).to.include("bash -c 'for p in 23768 62019 58238; do (exec 3<>/dev/tcp/203.0.113.9/$p) 2>/dev/null & sleep 0.5; kill $! 2>/dev/null; done'");
    expect(text).to.match(/^ {4}for p in 23768 62019 58238; do nmap -Pn -n --max-retries 0 --host-timeout 2s -p \$p 203\.0\.113\.9 >\/dev\/null; done$/m);
    expect(text).to.include('knock -d 500 203.0.113.9 23768:tcp 62019:tcp 58238:tcp');
    expect(text).to.include('"Knock on Ports" or "Port Knocker"');
    expect(text).to.match(/Knock from the network you will use/);
    expect(text).to.include('If it still fails, ask Ann Smith, +1 555 0100.');
    expect(text).not.to.match(/ask the administrator which address/);
  });

  it('an IPv6 server gets nmap -6; no contact set says "your administrator"; an inside address says to ask', async () => {
    expect(await faq('2001:db8::9')).to.match(/nmap -Pn -n -6 .* -p \$p 2001:db8::9 /);
    const inside = await faq('10.1.2.3', { addressKnown: false });
    expect(inside).to.match(/Server: {2}10\.1\.2\.3 {3}\(this is an inside address: ask the administrator which address to use from outside\)/);
    expect(inside).to.include('If it still fails, ask your administrator.');
  });
});

describe('knock rotate --dry-run keeps the sequence it shows', () => {
  it('the pending sequence survives every other write of knock.ini', async () => {
    const root = tmpRoot();
    try {
      const paths = new Paths(root);
      await writeKnockState(paths, { sequence: [23768, 62019, 58238], permanent: false, pending: [31111, 42222, 53333] });
      const st = await readKnockState(paths);
      expect(st.pending).to.deep.equal([31111, 42222, 53333]);
      // knock activate rewrites the state from what it read: the pending one stays
      await writeKnockState(paths, { ...st, permanent: true });
      expect((await readKnockState(paths)).pending).to.deep.equal([31111, 42222, 53333]);
      await writeKnockState(paths, { sequence: [31111, 42222, 53333], permanent: true });
      expect((await readKnockState(paths)).pending).to.equal(undefined);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a kept sequence is used only while its ports are still free', () => {
    expect(sequenceStillFree([31111, 42222, 53333], [], [])).to.equal(true);
    expect(sequenceStillFree([31111, 42222, 53333], [], [42222]), 'something listens there now').to.equal(false);
    expect(sequenceStillFree([31111, 42222, 53333], [{ proto: 'udp', from: 40000, to: 45000 }], []), 'a range opened since').to.equal(false);
    expect(sequenceStillFree([31111, 8080, 53333], [], []), 'a common port').to.equal(false);
  });
});
