import { expect } from 'chai';
import { generateSequence, parseSequence, knockEntryName, COMMON_PORTS } from '../../src/model/knock.js';
import { buildCatalog } from '../../src/model/services.js';

describe('knock sequences', () => {
  const catalogRanges = [...buildCatalog().values()].flat();
  const rtp = [{ proto: 'udp' as const, from: 10000, to: 20000 }];

  it('draws three distinct ports, skipping RTP, the catalog, listening and common ports', () => {
    // a scripted "random" source that offers every bad choice first
    const offers = [5060, 15000, 3306, 8080, 22222, 22222, 4569, 40000, 9001, 1023, 50001, 65536, 33333];
    let i = 0;
    const seq = generateSequence([...rtp, ...catalogRanges], [40000], () => offers[i++]);
    expect(seq).to.deep.equal([22222, 50001, 33333]);
  });

  it('always lands in 1024-65535, off every avoided port, over many real draws', () => {
    for (let n = 0; n < 300; n++) {
      const seq = generateSequence([...rtp, ...catalogRanges], [31337]);
      expect(new Set(seq).size).to.equal(3);
      for (const p of seq) {
        expect(p).to.be.within(1024, 65535);
        expect(p >= 10000 && p <= 20000).to.equal(false);
        expect(COMMON_PORTS).not.to.include(p);
        expect(p).not.to.equal(31337);
        expect(catalogRanges.some((r) => p >= r.from && p <= r.to)).to.equal(false);
      }
    }
  });

  it('parses a stored sequence and refuses a bad one', () => {
    expect(parseSequence('23768,62019,58238')).to.deep.equal([23768, 62019, 58238]);
    for (const bad of ['1,2,3', '2000,2000,3000', '2000,3000', '2000,3000,70000', '2000,3000,40a0', '02000,3000,4000']) {
      expect(() => parseSequence(bad), bad).to.throw(/three distinct ports/);
    }
  });

  it("names permanent knock entries by their UTC timestamp, as the original", () => {
    expect(knockEntryName(new Date('2017-02-20T09:05:03Z'))).to.equal('20170220-090503');
  });
});
