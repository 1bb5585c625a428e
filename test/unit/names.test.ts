import { expect } from 'chai';
import { validateName } from '../../src/model/name.js';
import { validateHostname } from '../../src/model/hostname.js';

describe('entry names', () => {
  for (const ok of ['home', 'Office-2', 'a', '20170220-101500', 'x.y_z', 'a'.repeat(64)]) {
    it(`accepts ${ok.slice(0, 20)}`, () => expect(validateName(ok)).to.equal(ok));
  }
  for (const bad of ['', '../x', '.hidden', '-rf', 'a/b', 'a b', 'a;b', '$(id)', 'a'.repeat(65), 'home.iptables', 'ü']) {
    it(`refuses ${JSON.stringify(bad).slice(0, 24)}`, () => expect(() => validateName(bad)).to.throw());
  }
});

describe('hostnames', () => {
  const ok: [string, string][] = [['Home.DynDNS.example.org.', 'home.dyndns.example.org'], ['a-b.example.net', 'a-b.example.net'], ['x1.y2.example', 'x1.y2.example']];
  for (const [input, want] of ok) it(`accepts ${input}`, () => expect(validateHostname(input)).to.equal(want));
  const bad: [string, RegExp][] = [
    ['localhost', /fully qualified/], ['192.0.2.1', /not a hostname/], ['a..b.com', /malformed label/], ['-a.example.com', /malformed label/],
    ['a.example.123', /ends in a number/], ['a.example.com;reboot', /characters/], ['$(id).example.com', /characters/],
    [`${'a'.repeat(64)}.example.com`, /malformed label/], ['', /empty/], ['../etc.example.com', /characters/],
  ];
  for (const [input, msg] of bad) it(`refuses ${JSON.stringify(input).slice(0, 30)}`, () => expect(() => validateHostname(input)).to.throw(msg));
});
