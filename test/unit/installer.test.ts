import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { sshClientAddress, publicAddress } from '../../src/installer/detect.js';
import { firstEntries } from '../../src/installer/entries.js';
import { parseProviderList } from '../../src/installer/providers.js';
import { parseProviderCatalog } from '../../src/model/provider.js';
import { InputError } from '../../src/model/errors.js';
import { packagesFor } from '../../src/installer/packages.js';

describe('installer detection and first entries', () => {
  it('installs fwknop-server only while [spa] is enabled; knockd either way', () => {
    expect(packagesFor(true)).to.include('fwknop-server').and.include('knockd');
    expect(packagesFor(false)).to.include('knockd').and.not.include('fwknop-server');
  });

  it("takes the admin's address from SSH_CONNECTION, then SSH_CLIENT", () => {
    expect(sshClientAddress({ SSH_CONNECTION: '198.51.100.7 50022 192.0.2.1 22' })).to.equal('198.51.100.7');
    expect(sshClientAddress({ SSH_CLIENT: '2001:db8::7 50022 22' })).to.equal('2001:db8::7');
    expect(sshClientAddress({})).to.equal(undefined);
  });

  it('never asks for the public address over plain HTTP', async () => {
    // a real HTTP server on loopback that would answer: it must never be asked
    let asked = 0;
    const server = http.createServer((_req, res) => { asked++; res.end('203.0.113.5\n'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      expect(await publicAddress(500, [url, url])).to.equal(undefined);
      expect(asked).to.equal(0);
    } finally {
      server.close();
    }
  });

  it('takes the public address only when both echo services agree on one valid address', async () => {
    const answers = (bodies: Record<string, string>) => (url: string) => Promise.resolve({ text: () => Promise.resolve(bodies[url]) });
    const [a, b] = ['https://echo-a.example.net/', 'https://echo-b.example.net/'];
    expect(await publicAddress(500, [a, b], answers({ [a]: '203.0.113.5\n', [b]: '203.0.113.5' }))).to.equal('203.0.113.5');
    expect(await publicAddress(500, [a, b], answers({ [a]: '203.0.113.5', [b]: '203.0.113.6' }))).to.equal(undefined);
    expect(await publicAddress(500, [a, b], answers({ [a]: '<html>captive portal</html>', [b]: '203.0.113.5' }))).to.equal(undefined);
  });

  it('makes one entry per admin and server address, names safe for files, no address twice', () => {
    const e = firstEntries(['198.51.100.7', '2001:db8::7'], ['192.0.2.1', '198.51.100.7', '2001:db8::1'], 'now');
    expect(e.map((x) => [x.name, x.address!.cidr, x.services.join(), x.source])).to.deep.equal([
      ['admin-198.51.100.7', '198.51.100.7/32', 'all', 'admin'],
      ['admin-2001-db8--7', '2001:db8::7/128', 'all', 'admin'],
      ['server-192.0.2.1', '192.0.2.1/32', 'all', 'admin'],
      ['server-2001-db8--1', '2001:db8::1/128', 'all', 'admin'],
    ]);
  });
});

describe('installer --providers', () => {
  const providers = parseProviderCatalog(JSON.stringify({ format: 1, providers: [
    { id: 'lab-trunk', name: 'Lab trunk', services: ['sip'], signalling: [{ address: '198.51.100.0/30', source: 'https://example.org/a', published: '2026-11-26' }] },
    { id: 'lab-wide', name: 'Lab wide', services: ['sip'], wide: true, signalling: [{ address: '198.48.0.0/12', source: 'https://example.org/b', published: '2026-11-26' }] },
  ] }), 'x.json');
  it('takes comma or space separated ids, any case, once each; empty and none mean none', () => {
    expect(parseProviderList('lab-trunk', providers)).to.deep.equal(['lab-trunk']);
    expect(parseProviderList(' LAB-TRUNK , lab-trunk ', providers)).to.deep.equal(['lab-trunk']);
    expect(parseProviderList('', providers)).to.deep.equal([]);
    expect(parseProviderList('none', providers)).to.deep.equal([]);
  });
  it('a typo is an error with the nearest id; a wide provider is left to tm3 provider add --allow-wide', () => {
    expect(() => parseProviderList('lab-trunk,lab-trunc', providers)).to.throw(InputError).with.property('fix').that.match(/did you mean lab-trunk\?/);
    expect(() => parseProviderList('lab-wide', providers)).to.throw(InputError).with.property('fix').that.match(/tm3 provider add lab-wide --allow-wide/);
  });
});
