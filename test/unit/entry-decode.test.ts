import { expect } from 'chai';
import fc from 'fast-check';
import { decode } from 'ini';
import { decodeEntryText } from '../../src/model/entry-decode.js';

// Lines close to what tm3 writes, plus the ones that must send the text to ini instead.
const line = fc.oneof(
  fc.constantFrom('[entry]', '# tm3 whitelist entry', '; note', '', '  ', '[other]', 'services', '[entry] ', 'x = "q"'),
  fc.tuple(
    fc.constantFrom('address', 'host', 'services', 'source', 'added', 'ban', '__proto__', 'key[]', ' services'),
    fc.constantFrom('=', ' = ', '=='),
    fc.oneof(fc.constantFrom('2001:db8::1/128', 'sip,web', 'admin', 'true', 'null', ' all ', 'a;b', 'a#b', '"x"', "'y'", 'a\\;b', ''), fc.string({ maxLength: 12 })),
  ).map(([k, eq, v]) => `${k}${eq}${v}`),
);

describe('entry file decoding', () => {
  it('gives exactly what ini.decode gives, for 500 generated entry texts', () => {
    fc.assert(fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
      const text = lines.join(eol);
      expect(JSON.parse(JSON.stringify(decodeEntryText(text)))).to.deep.equal(JSON.parse(JSON.stringify(decode(text))));
    }), { numRuns: 500 });
  });

  it('reads the form tm3 writes', () => {
    expect(decodeEntryText('# c\n[entry]\naddress=192.0.2.7/32\nservices=sip,web\n')).to.deep.equal({ entry: { address: '192.0.2.7/32', services: 'sip,web' } });
  });
});
