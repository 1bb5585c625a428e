import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { loadConfig, type Config } from '../../src/store/config.js';
import { Paths } from '../../src/store/paths.js';
import { planSets, changedSets } from '../../src/plan/sets.js';
import { rulesText, ipsetsText, customScript } from '../../src/plan/files.js';
import { render } from '../../src/plan/render.js';
import { ADMIN_BEGIN, ADMIN_END } from '../../src/plan/admin-section.js';
import { describeSetChanges } from '../../src/ops/sync-sets.js';
import { parseEntry } from '../../src/model/entry.js';

const fixture = (name: string) => fs.readFileSync(fileURLToPath(new URL(`../fixtures/plan/${name}`, import.meta.url)), 'utf8');

describe('planner and templates', () => {
  let config: Config;
  const paths = new Paths('/srv/lab-root');
  before(async () => { config = await loadConfig(new Paths('/nonexistent-tm3-root')); });

  const entries = () => [
    parseEntry('home', '[entry]\naddress=198.51.100.7\nservices=sip,web\n', config.catalog),
    parseEntry('net6', '[entry]\naddress=2001:db8:1::/48\nservices=all\n', config.catalog),
    parseEntry('roamer', '[entry]\nhost=roamer.dyn.example.net\nservices=ssh\n', config.catalog),
    parseEntry('legacy', 'old.dyn.example.net 203.0.113.40\n', config.catalog),
  ];
  const cache = { 'roamer.dyn.example.net': { v4: ['203.0.113.9/32'], v6: ['2001:db8::9/128'] } };

  it('renders rules.v4 exactly (default config)', () => expect(rulesText(config, 4)).to.equal(fixture('rules.v4')));
  it('renders rules.v6 exactly (default config)', () => expect(rulesText(config, 6)).to.equal(fixture('rules.v6')));

  it('plans one set per service and family, FQDNs by their last good answer, legacy by last-ip', () => {
    const sets = planSets(config, entries(), cache);
    // 11 services x 2 families, the union's 2, the site knock's 2, a person's 22 (one per service and family), the grant union's 2, 2 ban sets
    expect(sets).to.have.length(52);
    // the union (a stranger's one lookup) holds every member of every service set, and only those
    expect(sets.filter((s) => s.union).map((s) => s.name)).to.deep.equal(['tm3-known-4', 'tm3-known-6']);
    const timed = sets.filter((s) => s.timed).map((s) => s.name);
    expect(timed.slice(0, 4)).to.deep.equal(['tm3-knock-4', 'tm3-knock-6', 'tm3-knock-all-4', 'tm3-knock-all-6']);
    expect(timed).to.include('tm3-knock-ssh-6').and.include('tm3-ban-4');
    // every grant's address is in the timed grant union too (the stranger's shortcut tests it)
    expect(timed.slice(-4, -2)).to.deep.equal(['tm3-granted-4', 'tm3-granted-6']);
    expect(timed).to.have.length(28);
    const m = Object.fromEntries(sets.filter((s) => s.members.length).map((s) => [s.name, s.members]));
    expect(m).to.deep.equal({
      'tm3-all-4': ['203.0.113.40/32'],
      'tm3-all-6': ['2001:db8:1::/48'],
      'tm3-sip-4': ['198.51.100.7/32'],
      'tm3-web-4': ['198.51.100.7/32'],
      'tm3-ssh-4': ['203.0.113.9/32'],
      'tm3-ssh-6': ['2001:db8::9/128'],
      'tm3-known-4': ['198.51.100.7/32', '203.0.113.40/32', '203.0.113.9/32'],
      'tm3-known-6': ['2001:db8:1::/48', '2001:db8::9/128'],
    });
  });

  it("keeps a legacy entry's last-ip while its name has only failed lookups (last known good)", () => {
    const failed = { ...cache, 'old.dyn.example.net': { v4: [], v6: [], triedAt: '2026-11-26T00:00:00Z', error: 'timeout/timeout' } };
    const all4 = planSets(config, entries(), failed).find((s) => s.name === 'tm3-all-4')!;
    expect(all4.members).to.deep.equal(['203.0.113.40/32']);
    const answered = { ...cache, 'old.dyn.example.net': { v4: ['203.0.113.41/32'], v6: [], okAt: '2026-11-26T00:00:00Z' } };
    expect(planSets(config, entries(), answered).find((s) => s.name === 'tm3-all-4')!.members).to.deep.equal(['203.0.113.41/32']);
  });

  it('renders the ipsets file exactly, with no hostname in it', () => {
    const text = ipsetsText(planSets(config, entries(), cache));
    expect(text).to.equal(fixture('ipsets'));
    expect(text).not.to.match(/example\.net/);
  });

  it('finds only the sets that differ from the kernel', () => {
    const sets = planSets(config, entries(), cache);
    const kernel = new Map(sets.map((s) => [s.name, [...s.members]]));
    kernel.set('tm3-ssh-4', ['203.0.113.8/32']);
    kernel.delete('tm3-fop-6');
    expect(changedSets(sets, kernel).map((s) => s.name)).to.deep.equal(['tm3-ssh-4', 'tm3-fop-6']);
  });

  it('describes a set change as + and - lines', () => {
    const before = planSets(config, entries(), cache);
    const after = planSets(config, entries(), { 'roamer.dyn.example.net': { v4: ['203.0.113.10/32'], v6: ['2001:db8::9/128'] } });
    expect(describeSetChanges(before, after)).to.deep.equal(['+ 203.0.113.10/32 in tm3-ssh-4', '- 203.0.113.9/32 from tm3-ssh-4']);
  });

  it('renders iptables-custom exactly, with the root in its paths', () => {
    expect(customScript(config, paths, planSets(config, [], {}), undefined)).to.equal(fixture('iptables-custom'));
  });

  it("keeps the admin section byte for byte, '$' and all", () => {
    const body = '/sbin/iptables -A INPUT -s 198.51.100.0/24 -p tcp --dport 8443 -j ACCEPT\n# price: $& $1 $$ \\n {{x}}\n\n';
    const first = customScript(config, paths, planSets(config, [], {}), undefined);
    const edited = first.replace(/(# >>> ADMIN SECTION[^\n]*\n)[\s\S]*?(# <<< END)/, (_m, a, b) => `${a}${body}${b}`);
    const again = customScript(config, paths, planSets(config, entries(), cache), edited);
    expect(again.slice(again.indexOf(ADMIN_BEGIN) + ADMIN_BEGIN.length + 1, again.indexOf(ADMIN_END))).to.equal(body);
  });

  it('template helpers refuse values that were not validated', () => {
    expect(() => render('rules.v4', { version: '1;id', chain: 'X', trusted: [], open: [], whitelist: [] })).to.throw(/refusing to render word/);
    expect(() => render('rules.v4', { version: '1', chain: 'X', trusted: ['example.org'], open: [], whitelist: [] })).to.throw();
    expect(() => render('rules.v4', { version: '1', chain: 'X', trusted: [], open: ['-p tcp $(id)'], whitelist: [] })).to.throw(/refusing to render rule/);
    expect(() => render('ipsets', { version: '1', sets: [{ name: 'tm3-a-4', options: 'hash:net', members: ['evil.example.org'] }] })).to.throw();
    expect(() => render('ipsets', { version: '1', sets: [{ name: 'tm3-a-4', options: 'hash:net', members: ['192.0.2.1/32', '192.0.2.2/32\nflush'] }] })).to.throw(/not an IP address/);
    expect(() => render('ipsets', { version: '1', sets: [{ name: 'tm3-a-4\nflush', options: 'hash:net', members: ['192.0.2.1/32'] }] })).to.throw(/refusing to render/);
    expect(render('ipsets', { version: '1', sets: [{ name: 'tm3-a-4', options: 'hash:net', members: ['192.0.2.1/32', '2001:db8:0::1'] }] })).to.match(/\ncreate tm3-a-4 hash:net\nadd tm3-a-4 192\.0\.2\.1\/32\nadd tm3-a-4 2001:db8::1\/128\n$/);
  });
});
