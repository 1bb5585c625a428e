import { expect } from 'chai';
import { parseBanTimes, parseJailList } from '../../src/apply/fail2ban.js';
import { parsePortArg, duration } from '../../src/ops/why.js';
import { touches, parseFilter } from '../../src/ops/filter.js';
import { Tm3Error } from '../../src/model/errors.js';

// The pure parts of tm3 why / status ADDRESS: fail2ban 1.0.2's `get JAIL banip --with-time`,
// the PROTO/PORT argument, and what "holds or covers an address" means.

describe('why: fail2ban ban times', () => {
  const now = Date.parse('2026-11-26T21:40:00'); // local time, as fail2ban prints it
  it('reads each ban with its time left; bantime -1 has no end', () => {
    const text = '192.0.2.30 \t2026-11-26 21:30:00 + 3600 = 2026-11-26 22:30:00\n2001:db8::9 \t2026-11-26 21:39:00 + 120 = 2026-11-26 21:41:00\n198.51.100.7 \t2026-11-26 21:00:00 + -1 = 9999-12-31 23:59:59';
    expect(parseBanTimes('asterisk', text, now)).to.deep.equal([
      { jail: 'asterisk', address: '192.0.2.30', secondsLeft: 3000 },
      { jail: 'asterisk', address: '2001:db8::9', secondsLeft: 60 },
      { jail: 'asterisk', address: '198.51.100.7', secondsLeft: null },
    ]);
  });
  it('an expired ban still listed counts 0, junk lines nothing', () => {
    expect(parseBanTimes('sshd', '192.0.2.1 \t2026-11-26 20:00:00 + 600 = 2026-11-26 20:10:00\n\nerror: something', now)).to.deep.equal([{ jail: 'sshd', address: '192.0.2.1', secondsLeft: 0 }]);
  });
  it('the jail list of fail2ban-client status', () => {
    expect(parseJailList('Status\n|- Number of jail:\t3\n`- Jail list:\tasterisk, recidive, sshd')).to.deep.equal(['asterisk', 'recidive', 'sshd']);
    expect(parseJailList('Status\n|- Number of jail:\t0\n`- Jail list:\t')).to.deep.equal([]);
  });
  it('durations', () => {
    expect([duration(59), duration(600), duration(3600), duration(3 * 86_400), duration(null)]).to.deep.equal(['59s', '10m', '60m', '3d', 'no end']);
  });
});

describe('why: PROTO/PORT', () => {
  const cases: [string, string | null][] = [
    ['udp/5060', 'udp/5060'], ['TCP/22', 'tcp/22'], ['5060/udp', 'udp/5060'], [' tcp/65535 ', 'tcp/65535'],
    ['udp/0', null], ['udp/65536', null], ['sip', null], ['icmp/1', null], ['udp/5060:5069', null], ['udp/-1', null], ['', null], ['udp/5060;id', null],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} -> ${want ?? 'refused with the fix'}`, () => {
      if (want) return expect(`${parsePortArg(text).proto}/${parsePortArg(text).port}`).to.equal(want);
      expect(() => parsePortArg(text)).to.throw(Tm3Error, /is not PROTO\/PORT/).with.property('fix').that.matches(/e\.g\. udp\/5060/);
    });
  }
});

describe('list/status ADDRESS: holds or covers', () => {
  const cases: [string, string, boolean][] = [
    ['192.0.2.10/32', '192.0.2.10', true], ['192.0.2.0/24', '192.0.2.10', true], ['192.0.2.10/32', '192.0.2.11', false],
    ['192.0.2.10/32', '192.0.2.0/24', true], ['192.0.2.0/24', '192.0.2.0/25', true], ['198.51.100.0/24', '192.0.2.0/24', false],
    ['2001:db8::10/128', '2001:db8::10', true], ['2001:db8::/32', '2001:db8::10', true], ['192.0.2.10/32', '2001:db8::10', false],
    ['192.0.2.10', '192.0.2.10', true],
  ];
  for (const [cidr, filter, want] of cases) it(`${cidr} ~ ${filter}: ${want}`, () => expect(touches(cidr, parseFilter(filter).net!)).to.equal(want));
  it('a name is a name; a broken address keeps its own error; junk is refused', () => {
    expect(parseFilter('Phone.Example.org.')).to.deep.equal({ label: 'phone.example.org', host: 'phone.example.org' });
    expect(() => parseFilter('192.0.2.300')).to.throw(Tm3Error, /not a valid IP address/);
    expect(() => parseFilter('nonsense!')).to.throw(Tm3Error, /not an IP address/);
  });
});
