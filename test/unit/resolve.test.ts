import { expect } from 'chai';
import { mergeAnswer } from '../../src/resolve/merge.js';
import { resolveAll } from '../../src/resolve/resolve-all.js';
import type { HostAnswer } from '../../src/resolve/dns.js';
import type { HostRecord } from '../../src/store/cache.js';

const ok = (addrs: string[]) => ({ ok: true as const, addrs });
const fail = (error = 'ETIMEOUT') => ({ ok: false as const, error });
const prev: HostRecord = { v4: ['198.51.100.1/32'], v6: ['2001:db8::1/128'], okAt: 'then' };

describe('last known good', () => {
  const table: [string, HostAnswer, Partial<HostRecord>][] = [
    ['both answer: replaced', { v4: ok(['203.0.113.2/32']), v6: ok(['2001:db8::2/128']) }, { v4: ['203.0.113.2/32'], v6: ['2001:db8::2/128'], okAt: 'now' }],
    ['both time out: kept', { v4: fail(), v6: fail() }, { v4: prev.v4, v6: prev.v6, okAt: 'then', error: 'ETIMEOUT/ETIMEOUT' }],
    ['name vanished (NXDOMAIN): kept', { v4: ok([]), v6: ok([]) }, { v4: prev.v4, v6: prev.v6, okAt: 'then', error: 'no records/no records' }],
    ['v4 answers, v6 times out: v6 kept', { v4: ok(['203.0.113.2/32']), v6: fail() }, { v4: ['203.0.113.2/32'], v6: prev.v6, okAt: 'now' }],
    ['v4 answers, v6 has none: v6 emptied', { v4: ok(['203.0.113.2/32']), v6: ok([]) }, { v4: ['203.0.113.2/32'], v6: [], okAt: 'now' }],
  ];
  for (const [label, answer, want] of table) {
    it(label, () => expect(mergeAnswer(prev, answer, 'now')).to.deep.include(want));
  }
  it('an answer over [dns] max_addresses is not an update: the last good addresses stay, with a reason', () => {
    const many = Array.from({ length: 17 }, (_, i) => `203.0.113.${i + 1}/32`);
    const r = mergeAnswer(prev, { v4: ok(many), v6: ok([]) }, 'now', 16);
    expect(r).to.deep.include({ v4: prev.v4, v6: prev.v6, okAt: 'then' });
    expect(r.error).to.match(/17 addresses, over \[dns\] max_addresses \(16\)/);
    expect(mergeAnswer(prev, { v4: ok(many.slice(0, 16)), v6: ok([]) }, 'now', 16).v4).to.have.length(16);
  });
  it('an answer of only refused addresses keeps the last good ones and says which were refused', () => {
    const r = mergeAnswer(prev, { v4: { ok: true, addrs: [], dropped: ['127.0.0.1 (loopback)'] }, v6: ok([]) }, 'now');
    expect(r).to.deep.include({ v4: prev.v4, okAt: 'then', dropped: ['127.0.0.1 (loopback)'] });
    expect(r.error).to.match(/only addresses no client can have: 127\.0\.0\.1 \(loopback\)/);
  });
  it('a name never resolved and failing has no addresses', () => {
    expect(mergeAnswer(undefined, { v4: fail(), v6: fail() }, 'now')).to.deep.include({ v4: [], v6: [] });
  });
});

describe('resolveAll', () => {
  it('bounds concurrency, resolves each name once, and reports failures and changes', async () => {
    let inFlight = 0;
    let peak = 0;
    const calls: string[] = [];
    const lookup = async (host: string): Promise<HostAnswer> => {
      calls.push(host);
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return host.startsWith('down') ? { v4: fail(), v6: fail() } : { v4: ok([`198.51.100.${calls.length}/32`]), v6: ok([]) };
    };
    const hosts = [...Array.from({ length: 20 }, (_, i) => `h${i}.example.net`), 'down.example.net', 'h0.example.net'];
    const r = await resolveAll(hosts, { 'down.example.net': prev }, { servers: [], timeoutMs: 100, concurrency: 3, slowMs: 60_000, lookup });
    expect(peak).to.equal(3);
    expect(calls).to.have.length(21);
    expect(r.failed).to.deep.equal(['down.example.net']);
    expect(r.cache['down.example.net'].v4).to.deep.equal(prev.v4);
    expect(r.changed).to.have.length(20);
  });
});

describe('resolveAll with an upstream that never answers', () => {
  it('60 hanging names of 300 all wait side by side (one timeout of wall time), in-flight still bounded', async () => {
    let inFlight = 0;
    let peak = 0;
    let dead = 0;
    let deadPeak = 0;
    const lookup = async (host: string): Promise<HostAnswer> => {
      const isDead = host.startsWith('dead');
      peak = Math.max(peak, ++inFlight);
      if (isDead) deadPeak = Math.max(deadPeak, ++dead);
      await new Promise((r) => setTimeout(r, isDead ? 400 : 2));
      inFlight--;
      if (isDead) dead--;
      return isDead ? { v4: fail(), v6: fail() } : { v4: ok(['198.51.100.7/32']), v6: ok([]) };
    };
    const hosts = [...Array.from({ length: 60 }, (_, i) => `dead${i}.example.net`), ...Array.from({ length: 240 }, (_, i) => `live${i}.example.net`)];
    const r = await resolveAll(hosts, {}, { servers: [], timeoutMs: 400, concurrency: 32, slowMs: 20, lookup });
    expect(r.failed).to.have.length(60);
    expect(Object.keys(r.cache)).to.have.length(300);
    // a plain pool of 32 would wait on 32 dead names, then on the other 28
    expect(deadPeak, 'dead names waiting at once').to.equal(60);
    expect(peak, 'in flight').to.be.at.most(32 * 4);
  });
});
