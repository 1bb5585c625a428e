import { expect } from 'chai';
import { observe, entryUse, staleEntries, parseAge, type Usage } from '../../src/plan/usage.js';
import { changedSets, type SetPlan } from '../../src/plan/sets.js';
import { swapScript, countsAfterSwap, parseSave } from '../../src/apply/ipset.js';
import { parseNet } from '../../src/model/address.js';
import type { Entry } from '../../src/model/entry.js';
import { Tm3Error } from '../../src/model/errors.js';

// Hit counters: when an entry was last used, from the kernel's per-member counts.

const counts = (rows: [string, string, number][]) => {
  const m = new Map<string, Map<string, { packets: number }>>();
  for (const [set, cidr, packets] of rows) m.set(set, (m.get(set) ?? new Map()).set(cidr, { packets }));
  return m;
};
const T0 = '2026-10-01T00:00:00.000Z';
const T1 = '2026-11-20T00:00:00.000Z';
const entry = (name: string, address: string, services: string[], added = '2026-09-01T00:00:00.000Z'): Entry => ({ name, address: parseNet(address), services, source: 'admin', added });

describe('hit counters: observe', () => {
  it('a count that grew is a use now; one that stayed keeps its last use; first seen with a count is a use', () => {
    const u0 = observe(undefined, counts([['tm3-sip-4', '192.0.2.10/32', 0], ['tm3-sip-4', '192.0.2.20/32', 7]]), T0);
    expect(u0).to.deep.equal({ since: T0, members: { 'tm3-sip-4 192.0.2.10/32': { packets: 0, usedAt: null }, 'tm3-sip-4 192.0.2.20/32': { packets: 7, usedAt: T0 } } });
    const u1 = observe(u0, counts([['tm3-sip-4', '192.0.2.10/32', 3], ['tm3-sip-4', '192.0.2.20/32', 7]]), T1);
    expect(u1.since).to.equal(T0);
    expect(u1.members['tm3-sip-4 192.0.2.10/32']).to.deep.equal({ packets: 3, usedAt: T1 });
    expect(u1.members['tm3-sip-4 192.0.2.20/32']).to.deep.equal({ packets: 7, usedAt: T0 });
  });
  it('after a reboot (counts back to 0) nothing is a use; a lower non-zero count is', () => {
    const u0: Usage = { since: T0, members: { 'tm3-sip-4 192.0.2.10/32': { packets: 50, usedAt: T0 }, 'tm3-sip-4 192.0.2.20/32': { packets: 50, usedAt: T0 } } };
    const u1 = observe(u0, counts([['tm3-sip-4', '192.0.2.10/32', 0], ['tm3-sip-4', '192.0.2.20/32', 2]]), T1);
    expect(u1.members['tm3-sip-4 192.0.2.10/32'].usedAt).to.equal(T0);
    expect(u1.members['tm3-sip-4 192.0.2.20/32'].usedAt).to.equal(T1);
  });
});

describe('hit counters: stale entries', () => {
  const now = Date.parse('2026-11-26T00:00:00.000Z');
  const usage: Usage = { since: T0, members: {
    'tm3-sip-4 192.0.2.10/32': { packets: 9, usedAt: T1 },
    'tm3-sip-4 192.0.2.20/32': { packets: 0, usedAt: null },
    'tm3-ssh-4 192.0.2.30/32': { packets: 0, usedAt: null },
    'tm3-all-6 2001:db8::7/128': { packets: 1, usedAt: '2026-10-05T00:00:00.000Z' },
  } };
  const entries = [
    entry('used', '192.0.2.10', ['sip']), entry('quiet', '192.0.2.20', ['sip']), entry('new', '192.0.2.30', ['ssh'], '2026-11-20T00:00:00.000Z'),
    entry('v6', '2001:db8::7', ['all']), entry('old-set', '192.0.2.40', ['web']),
  ];
  const uses = entryUse(entries, {}, usage);
  it('quiet since counting began, or since added when added later; uncounted sets are not guessed at', () => {
    expect(uses.map((u) => [u.name, u.lastUsed, u.quietSince, u.counted])).to.deep.equal([
      ['used', T1, T0, true], ['quiet', null, T0, true], ['new', null, '2026-11-20T00:00:00.000Z', true],
      ['v6', '2026-10-05T00:00:00.000Z', T0, true], ['old-set', null, T0, false],
    ]);
  });
  it('--stale 30d: unused for 30 days (the quiet one, the v6 one last used in October); not the new one, not the uncounted one', () => {
    expect(staleEntries(uses, now, 30 * 86_400).map((u) => u.name)).to.deep.equal(['quiet', 'v6']);
    expect(staleEntries(uses, now, 5 * 86_400).map((u) => u.name)).to.deep.equal(['used', 'quiet', 'new', 'v6']);
  });
  it('ages', () => {
    expect([parseAge('30d'), parseAge('30'), parseAge('2w'), parseAge('12h')]).to.deep.equal([2_592_000, 2_592_000, 1_209_600, 43_200]);
    for (const bad of ['', '0d', '30x', '-1d', '1.5d', '30 days', '30d;id']) expect(() => parseAge(bad), bad).to.throw(Tm3Error, /is not an age/);
  });
});

describe('hit counters: sets', () => {
  const plan: SetPlan[] = [{ name: 'tm3-sip-4', family: 4, members: ['192.0.2.10/32', '192.0.2.20/32'] }, { name: 'tm3-knock-4', family: 4, members: [], timed: true, timeout: 60 }];
  it('a whitelist set made without counters is swapped even with the same members; a timed set never', () => {
    const kernel = new Map([['tm3-sip-4', ['192.0.2.10/32', '192.0.2.20/32']], ['tm3-knock-4', []]]);
    expect(changedSets(plan, kernel).map((s) => s.name)).to.deep.equal([]);
    expect(changedSets(plan, kernel, new Set(['tm3-sip-4', 'tm3-knock-4'])).map((s) => s.name)).to.deep.equal(['tm3-sip-4']);
  });
  it('the side set is made with counters, and a member that stays keeps its count', () => {
    const text = swapScript(plan, new Set(['tm3-sip-4', 'tm3-knock-4']), new Map([['tm3-sip-4', new Map([['192.0.2.10/32', { packets: 42, bytes: 4200 }]])]]));
    expect(text).to.equal([
      'create tm3-sip-4.n hash:net family inet hashsize 1024 maxelem 1048576 counters',
      'add tm3-sip-4.n 192.0.2.10/32 packets 42 bytes 4200',
      'add tm3-sip-4.n 192.0.2.20/32',
      'swap tm3-sip-4.n tm3-sip-4',
      'destroy tm3-sip-4.n',
      '',
    ].join('\n'));
  });
  it('a large side set is made with a hash table for its members; the set\'s own options otherwise', () => {
    const big: SetPlan = { name: 'tm3-sip-6', family: 6, members: Array.from({ length: 20000 }, (_, i) => `2001:db8::${(i + 1).toString(16)}/128`) };
    expect(swapScript([big], new Set(['tm3-sip-6'])).split('\n')[0]).to.equal('create tm3-sip-6.n hash:net family inet6 hashsize 32768 maxelem 1048576 counters');
    expect(swapScript([{ ...big, members: big.members.slice(0, 1024) }], new Set(['tm3-sip-6'])).split('\n')[0]).to.equal('create tm3-sip-6.n hash:net family inet6 hashsize 1024 maxelem 1048576 counters');
  });
  it('the counts recorded after a swap are what the kernel then holds, read back with no second ipset save', () => {
    const sets: SetPlan[] = [
      { name: 'tm3-sip-4', family: 4, members: ['192.0.2.10/32', '192.0.2.30/32'] },
      { name: 'tm3-iax-4', family: 4, members: ['198.51.100.7/32'] },
      { name: 'tm3-ssh-4', family: 4, members: ['203.0.113.9/32'] },
      { name: 'tm3-known-4', family: 4, members: ['192.0.2.10/32', '192.0.2.30/32', '198.51.100.7/32', '203.0.113.9/32'], union: true },
      { name: 'tm3-knock-4', family: 4, members: [], timed: true, timeout: 60 },
    ];
    // the kernel before: sip holds a member that goes (.20) and lacks one that comes (.30); iax
    // is unchanged; ssh was made by an older tm3 without counters
    const before = parseSave([
      'create tm3-sip-4 hash:net family inet hashsize 1024 maxelem 1048576 counters bucketsize 12 initval 0x1',
      'add tm3-sip-4 192.0.2.10 packets 42 bytes 4200',
      'add tm3-sip-4 192.0.2.20 packets 5 bytes 500',
      'create tm3-iax-4 hash:net family inet hashsize 1024 maxelem 1048576 counters bucketsize 12 initval 0x2',
      'add tm3-iax-4 198.51.100.7 packets 9 bytes 900',
      'create tm3-ssh-4 hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x3',
      'add tm3-ssh-4 203.0.113.9',
      'create tm3-known-4 hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x4',
      'add tm3-known-4 192.0.2.10',
      'create tm3-knock-4 hash:ip family inet hashsize 1024 maxelem 65536 timeout 60 bucketsize 12 initval 0x5',
      'add tm3-knock-4 203.0.113.5 timeout 31',
    ].join('\n'));
    const swapped = changedSets(sets, before.sets, before.lacking);
    expect(swapped.map((s) => s.name)).to.deep.equal(['tm3-sip-4', 'tm3-ssh-4', 'tm3-known-4']);
    // what `ipset save` prints once the swap script ran
    const after = parseSave([
      'create tm3-sip-4 hash:net family inet hashsize 1024 maxelem 1048576 counters bucketsize 12 initval 0x6',
      'add tm3-sip-4 192.0.2.10 packets 42 bytes 4200',
      'add tm3-sip-4 192.0.2.30 packets 0 bytes 0',
      'create tm3-iax-4 hash:net family inet hashsize 1024 maxelem 1048576 counters bucketsize 12 initval 0x2',
      'add tm3-iax-4 198.51.100.7 packets 9 bytes 900',
      'create tm3-ssh-4 hash:net family inet hashsize 1024 maxelem 1048576 counters bucketsize 12 initval 0x7',
      'add tm3-ssh-4 203.0.113.9 packets 0 bytes 0',
      'create tm3-known-4 hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x8',
      'add tm3-known-4 192.0.2.10',
      'create tm3-knock-4 hash:ip family inet hashsize 1024 maxelem 65536 timeout 60 bucketsize 12 initval 0x5',
      'add tm3-knock-4 203.0.113.5 timeout 30',
    ].join('\n'));
    const plain = (m: Map<string, Map<string, unknown>>) => Object.fromEntries([...m].map(([k, v]) => [k, Object.fromEntries(v)]));
    expect(swapScript(swapped, new Set(before.sets.keys()), before.hits)).to.include('add tm3-sip-4.n 192.0.2.10/32 packets 42 bytes 4200\nadd tm3-sip-4.n 192.0.2.30/32\n');
    expect(plain(countsAfterSwap(sets, swapped, before.hits))).to.deep.equal(plain(after.hits));
    // nothing swapped: the counters as read
    expect(plain(countsAfterSwap(sets, [], after.hits))).to.deep.equal(plain(after.hits));
  });
});
