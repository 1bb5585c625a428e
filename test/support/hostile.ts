// Generators of hostile user text for the property tests: what a confused admin, a pasted
// web page or an attacker with a knock might type. Shell payloads name a canary file, so a
// test can tell whether any shell ever ran one of them.
import fc from 'fast-check';
import { DEFAULT_SERVICES } from '../../src/model/services.js';

export const CANARY = '@CANARY@';

const PAYLOADS = [`$(touch ${CANARY})`, `\`touch ${CANARY}\``, `;touch ${CANARY}`, `|touch ${CANARY}`, `&&touch ${CANARY}`, `\ntouch ${CANARY}`];
const PIECES = [
  ...PAYLOADS, '../', '..', '/', '\\', '"', "'", '#', ';', '=', '[entry]', '[', ']', '%', '*', '?', '~', '-', '--', ' ', '\t',
  '\n', '\r', '\u202e', 'é', '０', '\u00a0', '.iptables', 'a', 'Z', '0', '1', '9', '.', ':', '::', '/', '/0', '/32', '/128',
  '0x', '00', '255', '256', 'ff', 'fe80', '%eth0', 'ffff:', 'all', 'sip', ',', 'example.net', 'xn--', '-a', 'a-',
];

/** Text made of the pieces above, or anything at all. */
export const hostileText = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 8 }).map((p) => p.join('')),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const octet = fc.oneof(fc.integer({ min: 0, max: 255 }).map(String), fc.constantFrom('256', '00', '010', '0x1', '-1', '', ' 1'));
const prefix = fc.oneof(fc.integer({ min: 0, max: 140 }).map(String), fc.constantFrom('', '08', '-1', '32 ', 'x'));
const withPrefix = (a: fc.Arbitrary<string>) => fc.tuple(a, fc.option(prefix)).map(([x, p]) => (p === null ? x : `${x}/${p}`));

/** Addresses and CIDRs: valid ones, near misses (octal, hex, zones, mapped, broad, host bits) and junk. */
export const addressText = fc.oneof(
  withPrefix(fc.ipV4()),
  withPrefix(fc.ipV6()),
  fc.ipV4Extended(),
  withPrefix(fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'))),
  fc.constantFrom('0.0.0.0/0', '::/0', '::ffff:192.0.2.1', '192.0.2.9/24', 'fe80::1%veth0', '224.0.0.1', '255.255.255.255', '240.0.0.1', '2001:db8::/16', '::', '::1', '127.0.0.1', '192.0.2.1/8'),
  fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.constantFrom(...PIECES)).map(([a, p]) => `${a}${p}`),
  hostileText,
);

/** Hostnames: valid domains, ones with a hostile piece spliced in, and junk. */
export const hostnameText = fc.oneof(
  fc.domain(),
  fc.tuple(fc.domain(), fc.constantFrom(...PIECES), fc.nat(30)).map(([d, p, at]) => `${d.slice(0, at)}${p}${d.slice(at)}`),
  fc.constantFrom('localhost', 'a..b.example.net', '-a.example.net', 'a.example.123', `${'a'.repeat(64)}.example.net`, `${'a.'.repeat(127)}net`, '192.0.2.1', 'example.net.'),
  hostileText,
);

/** Entry names: plausible ones, path tricks and junk. */
export const nameText = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._-]{0,70}$/),
  fc.constantFrom('../etc/passwd', '.hidden', 'a/b', 'x.iptables', '.', '..', '-rf', 'knock.FAQ', 'add-ip'),
  hostileText,
);

/** --services lists: catalog names in any case and order, unknown names and junk. */
export const servicesText = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom('all', 'ALL', ...Object.keys(DEFAULT_SERVICES), 'telnet', ''), hostileText), { minLength: 0, maxLength: 4 })
    .chain((items) => fc.constantFrom(',', ', ', ' ', ';').map((sep) => items.join(sep))),
  hostileText,
);

/** Half hostile, half plain: one hostile field at a time meets the checks, and some input passes. */
export const plainOr = (hostile: fc.Arbitrary<string>, plain: fc.Arbitrary<string>) => fc.oneof(hostile, plain);
export const plainName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
export const plainServices = fc.constantFrom('sip', 'web,ssh', 'all');
export const plainAddress = fc.integer({ min: 1, max: 254 }).map((i) => `203.0.113.${i}`);
