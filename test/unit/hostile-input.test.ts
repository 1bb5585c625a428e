import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import { parseNet, parseHost } from '../../src/model/address.js';
import { validateName, NAME_RE } from '../../src/model/name.js';
import { validateHostname } from '../../src/model/hostname.js';
import { parseServiceList, buildCatalog, ALL } from '../../src/model/services.js';
import { parseEntry, formatEntry, type Entry } from '../../src/model/entry.js';
import { InputError } from '../../src/model/errors.js';
import { addressText, hostnameText, nameText, servicesText, plainOr, plainName, plainServices, plainAddress } from '../support/hostile.js';

const RUNS = 120; // per validator; 6 validators and the entry round trip: over 800 cases
const catalog = buildCatalog();

/**
 * Either a refusal (an InputError whose message is one printable line and which names a fix)
 * or a value that passes `valid`. Anything else (a TypeError, a crash, a half-check) fails.
 */
function refusedOrValid<T>(fn: () => T, valid: (v: T) => void): void {
  let value: T;
  try {
    value = fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(InputError);
    const e = err as InputError;
    expect(e.message, 'one printable line').to.match(/^[\x20-\x7e]+$/);
    expect(e.fix, 'names a fix').to.match(/^[\x20-\x7e]+$/);
    seen.refused++;
    return;
  }
  valid(value);
  seen.accepted++;
}

const seen = { refused: 0, accepted: 0 };

const validNet = (force: boolean) => (n: ReturnType<typeof parseNet>) => {
  expect(n.cidr).to.match(/^[0-9a-f.:]+\/[0-9]{1,3}$/);
  expect(net.isIP(n.address), n.address).to.equal(n.family);
  expect(n.prefix).to.be.within(force ? 1 : n.family === 4 ? 8 : 32, n.family === 4 ? 32 : 128);
  expect(parseNet(n.cidr, { force }), 'canonical: parses to itself').to.deep.equal(n);
};

describe('hostile input: every value is refused with a fix, or valid (fast-check)', () => {
  // Each property must meet both outcomes, or it proved nothing about one of them.
  beforeEach(() => { seen.refused = 0; seen.accepted = 0; });
  afterEach(function () {
    if (this.currentTest?.state !== 'passed') return;
    expect(seen.refused, 'cases refused').to.be.greaterThan(0);
    expect(seen.accepted, 'cases accepted').to.be.greaterThan(0);
  });

  it(`entry names (${RUNS} cases): a plain file name, never a path`, () => {
    fc.assert(fc.property(nameText, (t) => refusedOrValid(() => validateName(t), (n) => {
      expect(n).to.equal(t).and.match(NAME_RE);
      expect(n).not.to.match(/^\.|\/|\.iptables$/);
    })), { numRuns: RUNS });
  });

  for (const force of [false, true]) {
    it(`addresses and CIDRs${force ? ' with --force' : ''} (${RUNS} cases): canonical, unicast, never the whole internet`, () => {
      fc.assert(fc.property(addressText, (t) => refusedOrValid(() => parseNet(t, { force }), validNet(force))), { numRuns: RUNS });
    });
  }

  it(`knock IPs (${RUNS} cases): one host address`, () => {
    fc.assert(fc.property(addressText, (t) => refusedOrValid(() => parseHost(t, 'knock address'), (n) => {
      validNet(false)(n);
      expect(n.prefix).to.equal(n.family === 4 ? 32 : 128);
    })), { numRuns: RUNS });
  });

  it(`hostnames (${RUNS} cases): lowercase DNS labels only`, () => {
    fc.assert(fc.property(hostnameText, (t) => refusedOrValid(() => validateHostname(t), (h) => {
      expect(h).to.match(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/);
      expect(h.length).to.be.at.most(253);
      expect(net.isIP(h)).to.equal(0);
      expect(validateHostname(h)).to.equal(h);
    })), { numRuns: RUNS });
  });

  it(`service lists (${RUNS} cases): names from the catalog only`, () => {
    fc.assert(fc.property(servicesText, (t) => refusedOrValid(() => parseServiceList(t, catalog), (list) => {
      expect(list.length).to.be.at.least(1);
      for (const s of list) expect([ALL, ...catalog.keys()]).to.include(s);
    })), { numRuns: RUNS });
  });

  it(`an accepted entry is written and read back unchanged (${RUNS} cases): no value can add a line to the file`, () => {
    fc.assert(fc.property(plainOr(nameText, plainName), plainOr(addressText, plainAddress), plainOr(servicesText, plainServices), (n, a, s) => {
      refusedOrValid(
        (): Entry => ({ name: validateName(n), address: parseNet(a), services: parseServiceList(s, catalog), source: 'admin', added: '2026-01-01T00:00:00.000Z' }),
        // read back with the fields the file does not hold (host: undefined) left out
        (entry) => expect(JSON.parse(JSON.stringify(parseEntry(entry.name, formatEntry(entry), catalog)))).to.deep.equal(JSON.parse(JSON.stringify(entry))),
      );
    }), { numRuns: RUNS });
  });
});

describe('a rollback puts files back as they were', () => {
  it('with their mode: the knock key stays 0600 and a script stays executable', async () => {
    const { FileUndo } = await import('../../src/store/files.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-undo-'));
    try {
      const [key, script, made] = ['knockd.conf', 'tm3-failsafe', 'new.iptables'].map((f) => path.join(dir, f));
      fs.writeFileSync(key, 'sequence = 7113,8224,9335\n', { mode: 0o600 });
      fs.writeFileSync(script, '#!/bin/sh\n', { mode: 0o755 });
      const undo = new FileUndo();
      for (const f of [key, script, made]) await undo.remember(f);
      fs.writeFileSync(key, 'changed\n');
      fs.chmodSync(key, 0o644);
      fs.writeFileSync(script, 'changed\n');
      fs.writeFileSync(made, 'x\n');
      await undo.rollback();
      expect([fs.readFileSync(key, 'utf8'), (fs.statSync(key).mode & 0o777).toString(8)]).to.deep.equal(['sequence = 7113,8224,9335\n', '600']);
      expect([fs.readFileSync(script, 'utf8'), (fs.statSync(script).mode & 0o777).toString(8)]).to.deep.equal(['#!/bin/sh\n', '755']);
      expect(fs.existsSync(made)).to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a backup copy keeps a link a link', () => {
  it('copyAtomic of a symbolic link makes the same link, not a copy of its target', async () => {
    const { copyAtomic } = await import('../../src/store/files.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-copy-'));
    try {
      fs.writeFileSync(path.join(dir, 'target'), 'x\n');
      fs.symlinkSync('target', path.join(dir, 'link'));
      await copyAtomic(path.join(dir, 'link'), path.join(dir, 'backup/link'));
      expect(fs.lstatSync(path.join(dir, 'backup/link')).isSymbolicLink()).to.equal(true);
      expect(fs.readlinkSync(path.join(dir, 'backup/link'))).to.equal('target');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an error is one line, whatever the argument held', () => {
  it('control characters in the message or the fix print as ?, never as a newline or an escape', async () => {
    const { errorLine } = await import('../../src/cli/output.js');
    // fast-check found it through del-acct: a name holding "\n" split the refusal over two lines
    const line = errorLine("'\u000e\b\u0007\nx\u001b[2J' is neither an entry name nor a single address", 'fix\r\nit');
    expect(line.split('\n')).to.have.length(1);
    expect(line).to.include("'????x?[2J' is neither").and.include('(fix: fix??it)');
  });
});
