import { expect } from 'chai';
import ipaddr from 'ipaddr.js';
import { parseNet, parseHost, neverRange, plainV6Parts, formatV6, canonicalHost, forcedCidr } from '../../src/model/address.js';
import { InputError } from '../../src/model/errors.js';

describe('parseNet', () => {
  const valid: [string, string, object?][] = [
    ['192.0.2.7', '192.0.2.7/32'],
    ['198.51.100.0/24', '198.51.100.0/24'],
    [' 203.0.113.9 ', '203.0.113.9/32'],
    ['2001:db8::7', '2001:db8::7/128'],
    ['2001:DB8:0:0::/64', '2001:db8::/64'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['100.0.0.0/6', '100.0.0.0/6', { force: true }],
  ];
  for (const [input, cidr, opts] of valid) {
    it(`accepts ${input} as ${cidr}`, () => expect(parseNet(input, opts).cidr).to.equal(cidr));
  }

  const invalid: [string, RegExp, object?][] = [
    ['0.0.0.0/0', /whole internet/],
    ['0.0.0.0/0', /whole internet/, { force: true }],
    ['::/0', /whole internet/, { force: true }],
    ['::ffff:0.0.0.0/96', /IPv4-mapped/, { force: true }],
    ['::ffff:198.51.100.1', /write the IPv4 form instead: 198.51.100.1/],
    ['192.0.02.1', /not a valid IP/],
    ['1.2.3', /not a valid IP/],
    ['0x7f.0.0.1', /not an IP address/],
    ['192.0.2.1/024', /bad prefix/],
    ['192.0.2.1/33', /bad prefix/],
    ['2001:db8::/129', /bad prefix/],
    ['192.0.2.1/24/8', /more than one/],
    ['192.0.2.5/24', /did you mean 192.0.2.0\/24/],
    ['100.0.0.0/6', /broader than \/8/],
    ['2600::/16', /broader than \/32/],
    ['1.2.3.4/7', /is broader than \/8 \(fix: narrow it/],
    ['224.0.0.5', /multicast/],
    ['ff02::1', /multicast/],
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['255.255.255.255', /broadcast/],
    ['250.1.2.3', /reserved/],
    ['fe80::1%eth0', /not an IP address/],
    ['192.0.2.1 ;reboot', /not an IP address/],
    ['`id`', /not an IP address/],
    ['', /empty/],
  ];
  for (const [input, msg, opts] of invalid) {
    it(`refuses ${JSON.stringify(input)}${opts ? ' even with --force' : ''}`, () => {
      let said = '';
      try { parseNet(input, opts); } catch (e) { expect(e).to.be.instanceOf(InputError); said = `${(e as InputError).message} (fix: ${(e as InputError).fix})`; }
      expect(said).to.match(msg);
    });
  }

  it('IPv6 prefixes that carry IPv4 (NAT64, IPv4-mapped) count at their IPv4 width; holding a whole one is never allowed', () => {
    for (const t of ['64:ff9b::/96', '64:ff9b::/95', '::fffe:0:0/95', '64:ff9b:1::/48']) {
      expect(() => parseNet(t), t).to.throw(/whole IPv4 internet appears as IPv6/);
      expect(() => parseNet(t, { force: true }), `${t} --force`).to.throw(/whole IPv4 internet/);
    }
    expect(() => parseNet('::/8', { force: true })).to.throw(/holds 64:ff9b::\/96/);
    expect(() => parseNet('64:ff9b::/100')).to.throw(/stands for IPv4 addresses broader than \/8/);
    expect(parseNet('64:ff9b::/100', { force: true }).cidr).to.equal('64:ff9b::/100');
    expect(parseNet('64:ff9b::cb00:7100/120').cidr).to.equal('64:ff9b::cb00:7100/120');
    expect(parseNet('2001:db8::/32').cidr).to.equal('2001:db8::/32');
  });

  it('every refusal names a fix', () => {
    for (const [input, , opts] of invalid) {
      try { parseNet(input, opts); } catch (e) { expect((e as InputError).fix, input).to.be.a('string').and.not.equal(''); }
    }
  });

  it('parseHost refuses a prefix', () => expect(() => parseHost('192.0.2.0/24')).to.throw(/single address/));
});

describe('neverRange (the refusals no --force lifts)', () => {
  // the reference: ipaddr.js's own range(), as parseNet used it before
  const NEVER = new Set(['unspecified', 'multicast', 'broadcast', 'ipv4Mapped']);
  const CLASS_E = ipaddr.parseCIDR('240.0.0.0/4');
  const reference = (a: ipaddr.IPv4 | ipaddr.IPv6) => {
    const r = a.range();
    return NEVER.has(r) || (a.kind() === 'ipv4' && (a as ipaddr.IPv4).match(CLASS_E as [ipaddr.IPv4, number])) ? r : undefined;
  };

  it('agrees with ipaddr.js range() on edges and on 20,000 random addresses of both families', () => {
    const edges = ['0.0.0.0', '0.255.255.255', '1.0.0.0', '127.0.0.1', '223.255.255.255', '224.0.0.0', '239.255.255.255', '240.0.0.0', '254.255.255.255', '255.255.255.254', '255.255.255.255', '192.0.2.1',
      '::', '::1', '::2', 'feff:ffff::', 'ff00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::ffff:0:0', '::ffff:ffff:ffff', '::fffe:0:0', '2001:db8::1', 'fe80::1'];
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const random = Array.from({ length: 10_000 }, () => [rnd(256), rnd(256), rnd(256), rnd(256)].join('.'))
      .concat(Array.from({ length: 10_000 }, (_, i) => Array.from({ length: 8 }, (_, j) => (i % 7 === 0 && j < 5 ? 0 : i % 11 === 0 && j === 5 ? 0xffff : rnd(65536))).map((x) => x.toString(16)).join(':')));
    for (const text of [...edges, ...random]) {
      const a = ipaddr.parse(text);
      expect(neverRange(a), text).to.equal(reference(a));
    }
  });
});

describe('IPv6 fast path (plainV6Parts, formatV6) against ipaddr.js', () => {
  const rnd = (n: number) => Math.floor(Math.random() * n);
  /** a random IPv6 text: zero runs, compression anywhere, mixed case, leading zeros */
  const randomText = () => {
    const p = Array.from({ length: 8 }, () => (rnd(3) === 0 ? 0 : rnd(4) === 0 ? rnd(16) : rnd(65536)));
    let g = p.map((x) => { let h = x.toString(16); if (rnd(5) === 0) h = h.padStart(4, '0'); return rnd(4) === 0 ? h.toUpperCase() : h; });
    if (rnd(2)) { const a = rnd(8); const b = a + 1 + rnd(8 - a); if (p.slice(a, b).every((x) => x === 0)) g = [...g.slice(0, a), '', ...g.slice(b)]; }
    let t = g.join(':').replace(/^:/, '::').replace(/:$/, '::');
    if (t === '::::' || t === ':::') t = '::';
    return t;
  };
  const broken = ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::', '1:::2', '12345::', '::g', '1:2:3:4:5:6:7:8::', '', ':', ':::', '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4'];

  it('splits exactly what ipaddr.js parses, and prints what ipaddr.js prints, on 20,000 random texts', () => {
    for (const text of [...Array.from({ length: 20_000 }, randomText), ...broken, '::', '::1', '1::', 'ffff::', '0:0:1:0:0:0:1:0', '1:0:0:1:0:0:0:1', '1:0:1:0:1:0:1:0']) {
      const mine = plainV6Parts(text);
      const theirs = ipaddr.IPv6.isValid(text) ? ipaddr.IPv6.parse(text) : undefined;
      if (mine) {
        expect(theirs, text).to.not.equal(undefined);
        expect(mine, text).to.deep.equal(theirs!.parts);
        expect(formatV6(mine), text).to.equal(theirs!.toString());
      } else if (!text.includes('.')) {
        expect(theirs, `${text}: ipaddr parses what the fast path refused`).to.equal(undefined);
      }
    }
  });

  it('canonicalHost (the saved sets file\'s quick check) says yes only where parseNet would print the text back as it is', () => {
    const v4 = () => [rnd(256), rnd(256), rnd(256), rnd(256)].map((x) => (rnd(20) === 0 ? `0${x}` : String(x))).join('.');
    const texts = [
      ...Array.from({ length: 10_000 }, () => `${randomText()}/128`),
      ...Array.from({ length: 2_000 }, () => `${randomText()}/${rnd(130)}`),
      ...Array.from({ length: 5_000 }, () => `${v4()}/32`),
      ...Array.from({ length: 1_000 }, () => `${v4()}/${rnd(34)}`),
      '::/128', '::1/128', 'ff02::1/128', 'fe80::1/128', '::ffff:c000:201/128', '::ffff:192.0.2.1/128', '64:ff9b::c000:201/128', '2001:db8::1/128', '2001:DB8::1/128',
      '1:0::1/128', '1::/128', '1:0:0:1::/128', '0:1::/128', '1:2:3:4:5:6:7::/128', '1:2:3:4:5:6::8/128', '1::3:4:5:6:7:8/128', '1:0:0:4::8/128', '1::4:0:0:8/128', ':1::/128', '1:/128', ':::1/128', 'g::1/128', '1:2:3:4:5:6:7:8:9/128', '01::1/128', '10000::1/128',
      '2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128', '2001:db8::/128', '2001:db8::1/127', '2001:db8::1 /128', ' 2001:db8::1/128', '2001:db8::1/0128',
      '0.1.2.3/32', '1.2.3.4/32', '223.255.255.255/32', '224.0.0.1/32', '255.255.255.255/32', '240.0.0.1/32', '192.0.2.1/032', '192.0.2.01/32', '192.0.2.1/31', '198.51.100.7/32',
    ];
    let yes = 0;
    for (const text of texts) {
      let want: boolean;
      try { want = parseNet(text, { force: true }).cidr === text; } catch { want = false; }
      // never yes where parseNet would refuse or print otherwise; for a host, yes wherever it prints it back
      if (canonicalHost(text)) expect(want, text).to.equal(true);
      const host = text.includes(':') ? text.endsWith('/128') : text.endsWith('/32');
      if (host && want) expect(canonicalHost(text), `${text}: a host parseNet prints back`).to.equal(true);
      if (want) { yes += canonicalHost(text) ? 1 : 0; expect(forcedCidr(text, 'x'), text).to.equal(text); }
    }
    expect(yes, 'hosts accepted').to.be.greaterThan(2_000);
    expect(() => forcedCidr('224.0.0.1/32', 'rendered address')).to.throw(/multicast/);
    expect(() => forcedCidr('::ffff:c000:201/128', 'rendered address')).to.throw(/IPv4-mapped/);
  });

  it('parseNet answers as before for both families (canonical text, refusals)', () => {
    for (let i = 0; i < 5000; i++) {
      const text = randomText();
      let want: string;
      try {
        const a = ipaddr.IPv6.parse(text);
        const r = neverRange(a);
        want = r ? 'refused' : a.toString();
      } catch { want = 'refused'; }
      let got: string;
      try { got = parseNet(text).address; } catch { got = 'refused'; }
      expect(got, text).to.equal(want);
    }
    expect(parseNet('198.51.100.7').cidr).to.equal('198.51.100.7/32');
    expect(parseNet('2001:DB8:0:0:1:0:0:1/128').address).to.equal('2001:db8::1:0:0:1');
    expect(() => parseNet('::ffff:c000:201')).to.throw(InputError, /IPv4-mapped/).with.property('fix').that.matches(/192\.0\.2\.1/);
  });
});
