import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

// tm3-failsafe compares the kernel's whitelist sets with /etc/iptables/ipsets after every
// iptables-custom. It first compares the texts (tm3 writes addresses as ipset prints them, but
// for /32 and /128) and fills a scratch namespace only when they differ. Equal text must mean
// equal sets, and any real difference must still be reported, however it is spelled.

describe('tm3-failsafe set check (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let failsafe: string;
  let sets: string;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const check = async () => {
    const r = await lab.exec(lab.server.ns, 'sh', [failsafe, 'check'], { reject: false });
    return { code: r.exitCode, out: `${r.stdout}${r.stderr}` };
  };
  const ipset = (...args: string[]) => lab.exec(lab.server.ns, 'ipset', args);

  before(async function () {
    requireLab(this);
    lab = await Lab.create(0);
    lab.writeConfig();
    const dir = path.join(lab.root, 'root');
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, address] of [['v4host', '198.51.100.7'], ['v4net', '203.0.113.0/24'], ['v6host', '2001:db8:0:1::1'], ['v6net', '2001:db8:5::/48']]) {
      fs.writeFileSync(path.join(dir, `${name}.iptables`), `[entry]\naddress=${address}\nservices=sip\nsource=admin\n`);
    }
    await ok(['restart']);
    failsafe = path.join(lab.root, 'usr/local/sbin/tm3-failsafe');
    sets = path.join(lab.root, 'etc/iptables/ipsets');
  });
  after(async () => { await lab?.destroy(); });

  it('passes right after restart', async () => {
    expect(await check()).to.deep.equal({ code: 0, out: '' });
  });

  it('a same-count substitution is reported, and verify repairs it, with /tmp full or TMPDIR full (no temp file to lose a line)', async () => {
    const mnt = path.join(lab.root, 'full');
    fs.mkdirSync(mnt, { recursive: true });
    // each run in a private mount namespace: a 64 KiB tmpfs, filled, as TMPDIR or over /tmp
    // (the lab root lives under /tmp: it stays visible through a bind mount)
    const fill = 'dd if=/dev/zero of="$0/fill" bs=4k 2>/dev/null; true';
    const variants = {
      'TMPDIR full': `mount -t tmpfs -o size=64k tm3full "${mnt}" && sh -c '${fill}' "${mnt}" && TMPDIR="${mnt}" sh "${failsafe}" "$0"`,
      '/tmp full': `mount --bind "${lab.root}" /mnt && mount -t tmpfs -o size=64k tm3full /tmp && mkdir -p "${lab.root}" && mount --bind /mnt "${lab.root}" && sh -c '${fill}' /tmp && sh "${failsafe}" "$0"`,
    };
    const substitute = async () => {
      // the count stays the same: 198.51.100.7 out, a stranger's whole /24 in
      await ipset('del', 'tm3-sip-4', '198.51.100.7');
      await ipset('add', 'tm3-sip-4', '192.0.2.0/24');
      await ipset('del', 'tm3-known-4', '198.51.100.7');
      await ipset('add', 'tm3-known-4', '192.0.2.0/24');
    };
    const inSet = async (member: string) => (await lab.exec(lab.server.ns, 'ipset', ['save', 'tm3-sip-4'])).stdout.includes(`add tm3-sip-4 ${member}`);
    for (const [what, script] of Object.entries(variants)) {
      await substitute();
      const c = await lab.exec(lab.server.ns, 'unshare', ['-m', 'sh', '-c', script, 'check'], { reject: false });
      expect(c.exitCode, `${what}, check: ${c.stdout}${c.stderr}`).to.equal(1);
      expect(c.stdout, what).to.match(/the whitelist sets in the kernel differ from .*192\.0\.2\.0\/24/);
      const v = await lab.exec(lab.server.ns, 'unshare', ['-m', 'sh', '-c', script, 'verify'], { reject: false });
      expect(v.exitCode, `${what}, verify: ${v.stdout}${v.stderr}`).to.equal(1);
      expect(await inSet('192.0.2.0/24'), `${what}: the /24 is gone after verify`).to.equal(false);
      expect(await inSet('198.51.100.7'), `${what}: the entry is back after verify`).to.equal(true);
      expect(await check()).to.deep.equal({ code: 0, out: '' });
    }
  });

  it('reports a member missing from the kernel, an extra one, and one turned into an exception (nomatch)', async () => {
    await ipset('del', 'tm3-sip-6', '2001:db8:0:1::1');
    let r = await check();
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(/the whitelist sets in the kernel differ from .*2001:db8:0:1::1/);
    await ipset('add', 'tm3-sip-6', '2001:db8:0:1::1');
    expect((await check()).code).to.equal(0);

    await ipset('add', 'tm3-sip-4', '192.0.2.66');
    r = await check();
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(/differ from .*192\.0\.2\.66/);
    await ipset('del', 'tm3-sip-4', '192.0.2.66');

    await ipset('del', 'tm3-sip-4', '203.0.113.0/24');
    await ipset('add', 'tm3-sip-4', '203.0.113.0/24', 'nomatch');
    r = await check();
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(/differ from .*203\.0\.113\.0\/24/);
    await ipset('del', 'tm3-sip-4', '203.0.113.0/24');
    await ipset('add', 'tm3-sip-4', '203.0.113.0/24');
    expect((await check()).code).to.equal(0);
  });

  it('reports a member put into the union set alone, and a knock grant that never ends or outlasts the grant time', async () => {
    // tm3-known-4 only repeats the service sets' members, and it is still compared in full
    await ipset('add', 'tm3-known-4', '192.0.2.77');
    let r = await check();
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(/differ from .*192\.0\.2\.77/);
    await ipset('del', 'tm3-known-4', '192.0.2.77');
    await ipset('del', 'tm3-known-6', '2001:db8:5::/48');
    r = await check();
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(/differ from .*2001:db8:5::\/48/);
    await ipset('add', 'tm3-known-6', '2001:db8:5::/48');
    expect((await check()).code).to.equal(0);

    const max = Number(/^create tm3-knock-4 .* timeout (\d+)/m.exec((await ipset('save', 'tm3-knock-4')).stdout)?.[1]);
    expect(max, 'the site knock set and its grant time').to.be.greaterThan(0);
    await ipset('add', 'tm3-knock-4', '203.0.113.5', 'timeout', String(Math.max(1, max - 5)));
    expect((await check()).code, 'a grant within its time').to.equal(0);
    for (const t of ['0', String(max + 100)]) {
      await ipset('add', 'tm3-knock-4', '203.0.113.6', 'timeout', t);
      r = await check();
      expect(r.code, r.out).to.equal(1);
      expect(r.out).to.match(/a knock grant that never ends or outlasts the grant time: add tm3-knock-4 203\.0\.113\.6/);
      await ipset('del', 'tm3-knock-4', '203.0.113.6');
    }
    await ipset('del', 'tm3-knock-4', '203.0.113.5');
    expect((await check()).code).to.equal(0);
  });

  it('a file that spells the same members differently still passes; a different member in it does not', async () => {
    const text = fs.readFileSync(sets, 'utf8');
    try {
      // same members: upper case, leading zeros, no compression, an explicit /128
      fs.writeFileSync(sets, text.replace('add tm3-sip-6 2001:db8:0:1::1/128', 'add tm3-sip-6 2001:0DB8:0000:0001:0:0:0:0001/128'));
      expect(await check()).to.deep.equal({ code: 0, out: '' });
      // a different member, spelled the way ipset prints the old one would be
      fs.writeFileSync(sets, text.replace('add tm3-sip-6 2001:db8:0:1::1/128', 'add tm3-sip-6 2001:db8:0:1::2/128'));
      const r = await check();
      expect(r.code, r.out).to.equal(1);
      expect(r.out).to.match(/differ from/);
    } finally {
      fs.writeFileSync(sets, text);
    }
    expect((await check()).code).to.equal(0);
  });

  // Issue 17, flood: the grant union tm3-granted-4/6 is a timed set like the grant sets, so its
  // changing members are the kernel's alone and never a difference from the file; and a repair
  // that has to make it again (a set of another shape swapped in) refills it from the live grants,
  // or those grants would stay shut until the next knock.
  it('live grants and their union never read as a difference; a repaired union gets the live grants back', async () => {
    await ipset('add', 'tm3-knock-4', '192.0.2.50', 'timeout', '300');
    await ipset('add', 'tm3-granted-4', '192.0.2.50', 'timeout', '300');
    await ipset('add', 'tm3-granted-4', '192.0.2.51', 'timeout', '300');
    expect(await check()).to.deep.equal({ code: 0, out: '' });
    await ipset('create', 'tm3-x.n', 'hash:ip', 'family', 'inet');
    await ipset('swap', 'tm3-x.n', 'tm3-granted-4');
    await ipset('destroy', 'tm3-x.n');
    const r = await check();
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(/not the set tm3 made.*tm3-granted-4/);
    const v = await lab.exec(lab.server.ns, 'sh', [failsafe, 'verify'], { reject: false });
    expect(v.exitCode, `${v.stdout}${v.stderr}`).to.equal(1);
    const saved = (await ipset('save', 'tm3-granted-4')).stdout;
    expect(saved).to.match(/^create tm3-granted-4 hash:ip .*timeout /m);
    const t = Number(/^add tm3-granted-4 192\.0\.2\.50 timeout (\d+)/m.exec(saved)?.[1]);
    expect(t, saved).to.be.within(1, 300);
    // the hand-added member with no grant is not brought back: only live grants are
    expect(saved).not.to.include('192.0.2.51');
    expect(await check()).to.deep.equal({ code: 0, out: '' });
    await ipset('del', 'tm3-knock-4', '192.0.2.50');
  });
});
