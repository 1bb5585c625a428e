import { expect } from 'chai';
import { parseEntry, formatEntry, type Entry } from '../../src/model/entry.js';
import { buildCatalog } from '../../src/model/services.js';
import { parseNet } from '../../src/model/address.js';

const catalog = buildCatalog();

describe('entry files', () => {
  it('round-trips the INI form', () => {
    const e: Entry = { name: 'home', address: parseNet('198.51.100.7'), services: ['sip', 'web'], source: 'admin', added: '2026-11-25T00:00:00.000Z' };
    const text = formatEntry(e);
    expect(text).to.equal('# tm3 whitelist entry. Edit with tm3 add-ip/add-fqdn --replace, remove with tm3 del-acct home.\n[entry]\naddress=198.51.100.7/32\nservices=sip,web\nsource=admin\nadded=2026-11-25T00:00:00.000Z\n');
    const back = parseEntry('home', text, catalog);
    expect(back).to.deep.include({ name: 'home', services: ['sip', 'web'], source: 'admin' });
    expect(back.address!.cidr).to.equal('198.51.100.7/32');
  });

  const legacy: [string, object][] = [
    ['203.0.113.9\n', { address: '203.0.113.9/32', host: undefined, lastIp: undefined }],
    ['home.dyndns.example.org 198.51.100.4\n', { address: undefined, host: 'home.dyndns.example.org', lastIp: '198.51.100.4/32' }],
    ['home.dyndns.example.org\r\n', { address: undefined, host: 'home.dyndns.example.org', lastIp: undefined }],
    ['198.51.100.0/24 \n', { address: '198.51.100.0/24', host: undefined, lastIp: undefined }],
  ];
  for (const [text, want] of legacy) {
    it(`reads the original's one-line format ${JSON.stringify(text)} as services all`, () => {
      const e = parseEntry('old', text, catalog);
      expect({ address: e.address?.cidr, host: e.host, lastIp: e.lastIp?.cidr }).to.deep.equal(want);
      expect(e.services).to.deep.equal(['all']);
    });
  }

  const garbage: [string, RegExp][] = [
    ['', /empty/],
    ['   \n# only a comment\n', /empty/],
    ['a b c\n', /more than two words/],
    ['[entry]\nservices=sip\n', /exactly one of address= or host=/],
    ['[entry]\naddress=192.0.2.1\nhost=a.example.org\n', /exactly one/],
    ['[entry]\naddress=0.0.0.0/0\n', /whole internet/],
    ['[entry]\naddress=192.0.2.1\nservices=telnet\n', /unknown service/],
    ['[entry]\naddress=192.0.2.1\nsource=hacker\n', /unknown source/],
    ['not.a.host;rm -rf /\n', /more than two words|characters/],
  ];
  for (const [text, msg] of garbage) {
    it(`refuses garbage ${JSON.stringify(text).slice(0, 40)}`, () => expect(() => parseEntry('g', text, catalog)).to.throw(msg));
  }
});
