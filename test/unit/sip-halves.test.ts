import { expect } from 'chai';
import { buildCatalog, describePorts } from '../../src/model/services.js';

// sip-udp and sip-tcp are the halves of sip: an override of sip moves them, or a warning says why not.
describe('[services] sip override and its halves', () => {
  const ports = (section: Record<string, string>) => {
    const warnings: string[] = [];
    const c = buildCatalog(section, warnings);
    return { udp: describePorts(c.get('sip-udp') ?? []), tcp: describePorts(c.get('sip-tcp') ?? []), warnings };
  };
  const cases: [string, Record<string, string>, { udp: string; tcp: string; warnings: RegExp[] }][] = [
    ['defaults', {}, { udp: 'udp/5060:5069', tcp: 'tcp/5060:5069', warnings: [] }],
    ['sip on 5080', { sip: 'udp/5080:5081, tcp/5080' }, { udp: 'udp/5080:5081', tcp: 'tcp/5080', warnings: [] }],
    ['sip-tcp set by hand wins', { sip: 'udp/5080, tcp/5080', 'sip-tcp': 'tcp/5061' }, { udp: 'udp/5080', tcp: 'tcp/5061', warnings: [] }],
    ['sip udp only', { sip: 'udp/5080' }, { udp: 'udp/5080', tcp: 'tcp/5060:5069', warnings: [/sip has no tcp port, so sip-tcp keeps tcp\/5060:5069; set sip-tcp in \[services\]/] }],
    ['sip-udp removed stays removed', { sip: 'udp/5080, tcp/5080', 'sip-udp': '' }, { udp: '', tcp: 'tcp/5080', warnings: [] }],
  ];
  for (const [what, section, want] of cases) {
    it(what, () => {
      const got = ports(section);
      expect({ udp: got.udp, tcp: got.tcp }).to.deep.equal({ udp: want.udp, tcp: want.tcp });
      expect(got.warnings).to.have.length(want.warnings.length);
      want.warnings.forEach((w, i) => expect(got.warnings[i]).to.match(w));
    });
  }
});
