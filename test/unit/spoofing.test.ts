import { expect } from 'chai';
import { forgeable } from '../../src/plan/spoofing.js';

describe('which trusted networks the internet can forge', () => {
  it('a network on its own link, or routed through a gateway of its own, is safe', () => {
    expect(forgeable('198.51.100.0/24', [{ dst: 'default', gateway: '192.0.2.254', dev: 'eth0' }, { dst: '198.51.100.0/24', dev: 'eth1' }])).to.equal(undefined);
    expect(forgeable('2001:db8:5::/64', [{ dst: '2001:db8::/32', gateway: 'fe80::1', dev: 'eth1' }, { dst: 'default', dev: 'eth0' }])).to.equal(undefined);
  });
  it('no route at all is safe too: strict rpfilter drops what it cannot route back', () => {
    expect(forgeable('10.0.0.0/8', [])).to.equal(undefined);
  });
  it('a network only the default route reaches is named, with the interface and the fix', () => {
    expect(forgeable('10.0.0.0/8', [{ dst: 'default', gateway: '192.0.2.254', dev: 'eth0' }])).to.equal('[firewall] trusted 10.0.0.0/8 is reached only through the default route (eth0), so a packet from the internet can claim it (route it through its own interface, narrow it to the LAN, or remove it from trusted)');
  });
  it('a network only partly on its own link (the default 192.168.0.0/16 with a LAN of 192.168.0.0/24) is named', () => {
    expect(forgeable('192.168.0.0/16', [{ dst: 'default', gateway: '192.0.2.254', dev: 'eth0' }, { dst: '192.168.0.0/24', dev: 'eth1' }])).to.match(/^\[firewall\] trusted 192\.168\.0\.0\/16 is reached partly through the default route \(eth0\)/);
  });
});
