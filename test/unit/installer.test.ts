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
    expect(await publicAddress(200, ['http://192.0.2.1/', 'http://192.0.2.2/'])).to.equal(undefined);
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
