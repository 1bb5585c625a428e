import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/store/config.js';
import { Paths } from '../../src/store/paths.js';

function rootWith(files: Record<string, string>): Paths {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-unit-'));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return new Paths(root);
}

describe('config', () => {
  // whoever can write tm3.conf or a drop-in can put their own address in [firewall] trusted
  for (const f of ['etc/tm3/tm3.conf', 'etc/tm3/tm3.conf.d/50-open.conf']) {
    it(`refuses ${f} when group or others can write it, and loads it once they cannot`, async () => {
      const paths = rootWith({ [f]: '[firewall]\nopen = tcp/80\n' });
      fs.chmodSync(paths.at(`/${f}`), 0o664);
      const err = await loadConfig(paths).then(() => 'loaded', (e: Error & { fix?: string }) => `${e.message} (fix: ${e.fix})`);
      expect(err).to.match(/writable by group or others \(mode 664\).*\(fix: chown root: and chmod go-w it/);
      fs.chmodSync(paths.at(`/${f}`), 0o644);
      expect((await loadConfig(paths)).sources).to.include(paths.at(`/${f}`));
    });
  }
  // A typo must never leave a default silently in force: one line, with the nearest real name.
  for (const [text, err] of [
    ['[firewal]\nopen = tcp/80\n', /unknown section \[firewal\] \(fix: did you mean \[firewall\]\?/],
    ['[firewall]\nopne = tcp/80\n', /unknown key 'opne' in \[firewall\] \(fix: did you mean open\?/],
    ['[fail2ban]\nmax_retry = 3\n', /unknown key 'max_retry' in \[fail2ban\] \(fix: did you mean maxretry\?/],
    ['[knock]\ncolour = blue\n', /unknown key 'colour' in \[knock\] \(fix: known: enabled interface grant_seconds services max_permanent_per_hour\)/],
    ['[zzz]\na = 1\n', /unknown section \[zzz\] \(fix: known: \[store\]/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} with a did-you-mean`, async () => {
      const err2 = await loadConfig(rootWith({ 'etc/tm3/tm3.conf.d/10-x.conf': text })).then(() => undefined, (e: Error & { fix?: string }) => `${e.message} (fix: ${e.fix})`);
      expect(err2).to.match(err);
      expect(err2).to.include('10-x.conf');
    });
  }

  // Values that open the box wide need allow_wide = true in their own section.
  for (const [text, err] of [
    ['[firewall]\nopen = udp/10000:20000, tcp/1:2000\n', /\[firewall\] open: 2000 tcp ports open to everyone \(fix: narrow it, or write allow_wide = true in \[firewall\]/],
    ['[firewall]\ntrusted = 10.0.0.0/7\n', /\[firewall\] trusted: 10\.0\.0\.0\/7 is broader than \/8/],
    ['[firewall]\ntrusted = 2001:db8::/31\n', /\[firewall\] trusted: 2001:db8::\/31 is broader than \/32/],
    ['[firewall]\ntrusted = 127.0.0.0/8, 1.0.0.0/8\n', /\[firewall\] trusted: public networks 1\.0\.0\.0\/8 add up to more than a \/16 of the internet \(a typo of a private range\?\)/],
    ['[firewall]\ntrusted = 203.0.113.0/24, 198.18.0.0/15\n', /trusted: public networks 203\.0\.113\.0\/24, 198\.18\.0\.0\/15 add up to more than a \/16/],
    ['[firewall]\ntrusted = ::1, 2001:db8::/40\n', /trusted: public networks 2001:db8::\/40 add up to more than a \/48/],
    ['[services]\nrange = udp/20000:30000\n', /\[services\] range: spans 10001 udp ports \(fix: narrow it, or write allow_wide = true in \[services\]/],
  ] as const) {
    it(`refuses the wide ${JSON.stringify(text)} unless allow_wide = true`, async () => {
      const msg = await loadConfig(rootWith({ 'etc/tm3/tm3.conf': text })).then(() => 'loaded', (e: Error & { fix?: string }) => `${e.message} (fix: ${e.fix})`);
      expect(msg).to.match(err);
      const section = /\[(\w+)\]/.exec(text)![1];
      const allowed = await loadConfig(rootWith({ 'etc/tm3/tm3.conf': text.replace(`[${section}]\n`, `[${section}]\nallow_wide = true\n`) }));
      expect(allowed.sources).to.have.length(1);
    });
  }
  it('the RTP default is not wide, and neither is a /8', async () => {
    const c = await loadConfig(rootWith({ 'etc/tm3/tm3.conf': '[firewall]\nopen = udp/10000:20000\ntrusted = 10.0.0.0/8\n' }));
    expect(c.firewall.open).to.have.length(1);
  });

  it('has the documented defaults with no file at all', async () => {
    const c = await loadConfig(rootWith({}));
    expect(c.storeDir).to.equal('/root');
    expect(c.dns).to.deep.equal({ servers: [], timeoutMs: 2000, concurrency: 32, maxAgeMinutes: 1440, maxAddresses: 16 });
    expect(c.firewall.trusted.map((n) => n.cidr)).to.deep.equal(['127.0.0.0/8', '10.0.0.0/8', '192.168.0.0/16', '::1/128']);
    expect(c.firewall.trusted.map((n) => n.cidr)).not.to.include('172.16.0.0/12');
    expect(c.firewall.open).to.deep.equal([{ proto: 'udp', from: 10000, to: 20000 }]);
    expect(c.fail2ban.enabled).to.equal(true);
  });

  it('reads tm3.conf, then tm3.conf.d/*.conf in name order, later keys winning', async () => {
    const c = await loadConfig(rootWith({
      'etc/tm3/tm3.conf': '[dns]\nservers = 127.0.0.1:5353, [2001:db8::53]:53\ntimeout_ms = 500\n[store]\ndir = /var/lib/wl\n',
      'etc/tm3/tm3.conf.d/20-late.conf': '[dns]\ntimeout_ms = 900\n',
      'etc/tm3/tm3.conf.d/10-early.conf': '[dns]\ntimeout_ms = 700\nconcurrency = 4\n[services]\nprov = tcp/8667\n',
      'etc/tm3/tm3.conf.d/ignored.txt': '[dns]\ntimeout_ms = 1\n',
    }));
    expect(c.dns.servers).to.deep.equal([{ host: '127.0.0.1', port: 5353 }, { host: '2001:db8::53', port: 53 }]);
    expect(c.dns.timeoutMs).to.equal(900);
    expect(c.dns.concurrency).to.equal(4);
    expect(c.storeDir).to.equal('/var/lib/wl');
    expect(c.catalog.has('prov')).to.equal(true);
    expect(c.sources.map((s) => path.basename(s))).to.deep.equal(['tm3.conf', '10-early.conf', '20-late.conf']);
  });

  const bad: [string, RegExp][] = [
    ['[dns]\ntimeout_ms = soon\n', /timeout_ms/],
    ['[dns]\nservers = dns.example.org\n', /not host\[:port\]/],
    ['[firewall]\ntrusted = 0.0.0.0/0\n', /whole internet/],
    ['[firewall]\nopen = udp/10000-20000\n', /not a port/],
    ['[fail2ban]\nenabled = perhaps\n', /true or false/],
    ['[store]\ndir = ../etc\n', /plain absolute path/],
    ['[store]\ndir = /root$(id)\n', /plain absolute path/],
  ];
  for (const [text, msg] of bad) {
    it(`refuses ${JSON.stringify(text)}`, async () => {
      let err: Error | undefined;
      try { await loadConfig(rootWith({ 'etc/tm3/tm3.conf': text })); } catch (e) { err = e as Error; }
      expect(err?.message).to.match(msg);
    });
  }
});

describe('config values that reach rendered files', () => {
  it('a week-long bantime renders into the jail drop-in (it is no port number)', async () => {
    const { fail2banFiles } = await import('../../src/plan/fail2ban-files.js');
    const paths = rootWith({ 'etc/tm3/tm3.conf': '[fail2ban]\nbantime = 604800\nfindtime = 86400\nmaxretry = 3\n' });
    const jail = fail2banFiles(await loadConfig(paths), paths, '/usr/local/sbin/tm3', false).find((f) => f.path.endsWith('jail.d/tm3.local'))!;
    expect(jail.text).to.match(/^bantime = 604800$/m).and.match(/^findtime = 86400$/m).and.match(/^maxretry = 3$/m);
  });
});
