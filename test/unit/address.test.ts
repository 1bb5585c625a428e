import { expect } from 'chai';
import { parseNet, parseHost } from '../../src/model/address.js';
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
