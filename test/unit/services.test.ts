import { expect } from 'chai';
import { buildCatalog, parseServiceList, parsePortList, describePorts } from '../../src/model/services.js';
import { portMatches } from '../../src/plan/rules.js';

describe('service catalog', () => {
  const catalog = buildCatalog();
  it("holds the original's menu", () => {
    expect([...catalog.keys()]).to.deep.equal(['sip', 'sip-udp', 'sip-tcp', 'iax', 'web', 'webmin', 'ftp', 'tftp', 'ssh', 'fop']);
    expect(describePorts(catalog.get('sip')!)).to.equal('udp/5060:5069, tcp/5060:5069');
    expect(describePorts(catalog.get('ssh')!)).to.equal('tcp/22, tcp/9022');
  });
  it('takes overrides, additions and removals from [services]', () => {
    const c = buildCatalog({ provisioning: 'tcp/8667', ftp: '' , ssh: 'tcp/2222' });
    expect(c.has('ftp')).to.equal(false);
    expect(describePorts(c.get('ssh')!)).to.equal('tcp/2222');
    expect(describePorts(c.get('provisioning')!)).to.equal('tcp/8667');
  });
  it("refuses to redefine 'all' or a bad name", () => {
    expect(() => buildCatalog({ all: 'tcp/1' })).to.throw(/cannot redefine/);
    // a service would share its set with the knock grants, the bans or the union of the whitelist
    for (const name of ['knock', 'ban', 'known', 'granted']) expect(() => buildCatalog({ [name]: 'tcp/1' })).to.throw(new RegExp(`cannot define '${name}'`));
    expect(() => buildCatalog({ 'Bad Name': 'tcp/1' })).to.throw(/not allowed/);
  });
  const badPorts = ['tcp/0', 'tcp/65536', 'icmp/1', 'udp/20:10', 'tcp/22;id', '', 'tcp/022'];
  for (const p of badPorts) it(`refuses port ${JSON.stringify(p)}`, () => expect(() => parsePortList(p, 'x')).to.throw());

  it('parses service lists in catalog order; all swallows the rest', () => {
    expect(parseServiceList('web, sip', catalog)).to.deep.equal(['sip', 'web']);
    expect(parseServiceList('SIP,all', catalog)).to.deep.equal(['all']);
    expect(() => parseServiceList('telnet', catalog)).to.throw(/unknown service 'telnet'/);
    expect(() => parseServiceList('', catalog)).to.throw(/no services/);
  });

  it('splits multiport matches at 15 ports, a range counting two', () => {
    const ranges = parsePortList(Array.from({ length: 16 }, (_, i) => `tcp/${1000 + i}`).join(',') + ', udp/1:5, udp/7', 'x');
    expect(portMatches(ranges)).to.deep.equal([
      { proto: 'udp', dports: '1:5,7' },
      { proto: 'tcp', dports: Array.from({ length: 15 }, (_, i) => 1000 + i).join(',') },
      { proto: 'tcp', dports: '1015' },
    ]);
  });
});
