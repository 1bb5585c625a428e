import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { sshClientAddress, publicAddress } from '../../src/installer/detect.js';
import { firstEntries } from '../../src/installer/entries.js';

describe('installer detection and first entries', () => {
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
