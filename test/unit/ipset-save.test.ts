import { expect } from 'chai';
import { parseSave } from '../../src/apply/ipset.js';

// `ipset save` as ipset 7 prints it: what tm3 reads back before every swap, refresh and usage look.
const SAVE = [
  'create tm3-sip-4 hash:net family inet hashsize 1024 maxelem 1048576 counters bucketsize 12 initval 0x1',
  'add tm3-sip-4 198.51.100.7 packets 12 bytes 960',
  'add tm3-sip-4 192.0.2.0/24 packets 0 bytes 0',
  'create tm3-sip-6 hash:net family inet6 hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x2',
  'add tm3-sip-6 2001:db8::7',
  'create tm3-known-4 hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x3',
  'add tm3-known-4 198.51.100.7',
  'create tm3-knock-4 hash:ip family inet hashsize 1024 maxelem 65536 timeout 3600 bucketsize 12 initval 0x4',
  'add tm3-knock-4 203.0.113.5 timeout 3581',
  'create tm3-knock-sip-6 hash:ip family inet6 hashsize 1024 maxelem 65536 timeout 3600 bucketsize 12 initval 0x7',
  'add tm3-knock-sip-6 2001:db8::5 timeout 120',
  'add tm3-knock-sip-6 2001:db8::6 timeout 0',
  'create tm3-knock-sip-6.n hash:ip family inet6 hashsize 1024 maxelem 65536 timeout 3600 bucketsize 12 initval 0x8',
  'add tm3-knock-sip-6.n 2001:db8::99 timeout 50',
  'create tm3-ban-4 hash:ip family inet hashsize 1024 maxelem 65536 timeout 600 bucketsize 12 initval 0x9',
  'add tm3-ban-4 203.0.113.66 timeout 500',
  'create tm3-sip-4.n hash:net family inet hashsize 1024 maxelem 1048576 counters bucketsize 12 initval 0x5',
  'add tm3-sip-4.n 203.0.113.99 packets 0 bytes 0',
  'create other hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x6',
  'add other 203.0.113.98',
].join('\n');

describe('ipset save, read back (apply/ipset parseSave)', () => {
  const s = parseSave(SAVE);
  it("reads tm3's sets only, members as sorted canonical CIDRs, side sets and others left out", () => {
    expect(Object.fromEntries(s.sets)).to.deep.equal({
      'tm3-sip-4': ['192.0.2.0/24', '198.51.100.7/32'],
      'tm3-sip-6': ['2001:db8::7/128'],
      'tm3-known-4': ['198.51.100.7/32'],
      'tm3-knock-4': ['203.0.113.5/32'],
      'tm3-knock-sip-6': ['2001:db8::5/128', '2001:db8::6/128'],
      'tm3-ban-4': ['203.0.113.66/32'],
    });
  });
  it('reads the hit counters of the sets that have them', () => {
    expect(Object.fromEntries([...s.hits].map(([k, v]) => [k, Object.fromEntries(v)]))).to.deep.equal({
      'tm3-sip-4': { '198.51.100.7/32': { packets: 12, bytes: 960 }, '192.0.2.0/24': { packets: 0, bytes: 0 } },
    });
  });
  it('names the whitelist sets made without counters, but not the union or a timed set', () => {
    expect([...s.lacking]).to.deep.equal(['tm3-sip-6']);
  });
  it('reads the live knock grants with their time left, as printed (side sets and bans are not grants)', () => {
    expect(Object.fromEntries([...s.grants].map(([k, v]) => [k, Object.fromEntries(v)]))).to.deep.equal({
      'tm3-knock-4': { '203.0.113.5': 3581 },
      'tm3-knock-sip-6': { '2001:db8::5': 120, '2001:db8::6': 0 },
    });
  });
  it('reads nothing from an empty kernel', () => {
    expect(parseSave('').sets.size).to.equal(0);
  });
});
