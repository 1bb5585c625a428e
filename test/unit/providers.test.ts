import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { parseProviderCatalog, providerEntries, type Provider } from '../../src/model/provider.js';
import { validateName } from '../../src/model/name.js';
import { parseEntry, formatEntry, type Entry } from '../../src/model/entry.js';
import { buildCatalog } from '../../src/model/services.js';
import { InputError } from '../../src/model/errors.js';
import { loadProviders, SHIPPED_PROVIDERS } from '../../src/store/providers.js';
import { Paths } from '../../src/store/paths.js';
import { pickProviders, planProviderAdd, trustOf } from '../../src/ops/providers.js';

const services = buildCatalog();
const DOC = 'https://example.org/voip/firewall';
const item = (extra: Record<string, unknown>) => ({ source: DOC, published: 'retrieved 2026-11-26', ...extra });
const catalog = (providers: unknown[], top: Record<string, unknown> = {}) => JSON.stringify({ format: 1, providers, ...top });
const lab = (extra: Record<string, unknown> = {}) => ({ id: 'lab-trunk', name: 'Lab trunk', services: ['sip'], signalling: [item({ address: '198.51.100.0/30' }), item({ host: 'sip.example.net' })], ...extra });

/** The one-line error a catalog text gets, or '' if it loads. */
function refusal(text: string): string {
  try {
    parseProviderCatalog(text, '/etc/tm3/providers.json');
    return '';
  } catch (err) {
    expect(err).to.be.instanceOf(InputError);
    const e = err as InputError;
    expect(e.message).to.match(/^\/etc\/tm3\/providers\.json: /);
    expect(e.fix).to.be.a('string').and.not.equal('');
    return `${e.message} (fix: ${e.fix})`;
  }
}

describe('provider catalog', () => {
  const shipped = parseProviderCatalog(fs.readFileSync(SHIPPED_PROVIDERS, 'utf8'), SHIPPED_PROVIDERS);

  it('the shipped catalog validates, and every provider records where and when each address was published', () => {
    expect(shipped.length).to.be.greaterThan(2);
    for (const p of shipped) {
      expect(p.signalling.length, p.id).to.be.greaterThan(0);
      for (const s of p.signalling) {
        expect(s.source, `${p.id} ${s.address?.cidr ?? s.host}`).to.match(/^https:\/\//);
        expect(s.published, `${p.id} ${s.address?.cidr ?? s.host}`).to.match(/\d{4}-\d{2}-\d{2}/);
      }
    }
  });

  it('every shipped provider makes valid entries that round-trip through the entry file format', () => {
    for (const p of shipped) {
      const entries = providerEntries(p, ['sip'], '2026-11-26T00:00:00.000Z');
      expect(entries.length).to.equal(p.signalling.length);
      for (const e of entries) {
        expect(validateName(e.name)).to.equal(e.name);
        const back = parseEntry(e.name, formatEntry(e), services);
        expect(back.source).to.equal('provider');
        expect(back.address?.cidr ?? back.host).to.equal(e.address?.cidr ?? e.host);
      }
      for (const s of p.services) expect(services.has(s), `${p.id} service ${s}`).to.equal(true);
    }
  });

  it('no shipped provider uses documentation or private space, and none is wide', () => {
    for (const p of shipped) {
      expect(p.wide, p.id).to.equal(false);
      for (const s of p.signalling) expect(s.address?.cidr ?? '', p.id).not.to.match(/^(192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:db8:)/);
    }
  });

  it('a sound test catalog loads, hostnames lowercased', () => {
    const [p] = parseProviderCatalog(catalog([lab({ signalling: [item({ host: 'SIP.Example.NET.' })] })]), 'x.json');
    expect(p.signalling[0].host).to.equal('sip.example.net');
  });

  // each hostile or broken catalog: refused whole, one line naming the file and the fix
  const hostile: [string, string, RegExp][] = [
    ['not JSON', '{"format": 1, "providers": [', /not valid JSON/],
    ['an array', '[]', /not a JSON object/],
    ['another format', catalog([lab()], { format: 2 }), /format 2/],
    ['a typo in a top key', JSON.stringify({ format: 1, provders: [] }), /unknown key 'provders'.*did you mean "providers"/],
    ['a typo in a provider key', catalog([{ ...lab(), sevices: ['sip'] }]), /unknown key 'sevices'.*did you mean "services"/],
    ['an id with a slash', catalog([lab({ id: '../etc' })]), /id tm3 cannot use/],
    ['an id ending in -<number>', catalog([lab({ id: 'trunk-2' })]), /id tm3 cannot use/],
    ['an id with capitals', catalog([lab({ id: 'Twilio' })]), /id tm3 cannot use/],
    ['the same id twice', catalog([lab(), lab()]), /twice/],
    ['no name', catalog([lab({ name: '' })]), /no "name"/],
    ['services all', catalog([lab({ services: ['all'] })]), /services "all"/],
    ['a service name with a shell character', catalog([lab({ services: ['sip;reboot'] })]), /bad "services"/],
    ['no signalling', catalog([lab({ signalling: [] })]), /no "signalling"/],
    ['the whole internet', catalog([lab({ signalling: [item({ address: '0.0.0.0/0' })] })]), /whole internet/],
    ['a /4 not marked wide', catalog([lab({ signalling: [item({ address: '64.0.0.0/4' })] })]), /broader than \/8.*"wide": true/],
    ['a /12 not marked wide', catalog([lab({ signalling: [item({ address: '198.48.0.0/12' })] })]), /more than a \/16/],
    ['many small ranges adding up past a /16', catalog([lab({ signalling: [item({ address: '198.18.0.0/16' }), item({ address: '198.51.100.0/24' })] })]), /more than a \/16/],
    ['an IPv6 /40 not marked wide', catalog([lab({ signalling: [item({ address: '2001:db8::/40' })] })]), /more than a \/48/],
    ['a private network', catalog([lab({ signalling: [item({ address: '10.0.0.0/8' })] })]), /private, not on the internet/],
    ['loopback', catalog([lab({ signalling: [item({ address: '127.0.0.1' })] })]), /loopback/],
    ['host bits set', catalog([lab({ signalling: [item({ address: '198.51.100.7/24' })] })]), /host bits/],
    ['a hostname with a shell character', catalog([lab({ signalling: [item({ host: 'sip.example.net;reboot' })] })]), /characters DNS names cannot have/],
    ['an address in "host"', catalog([lab({ signalling: [item({ host: '198.51.100.7' })] })]), /is an address, not a hostname/],
    ['both address and host', catalog([lab({ signalling: [item({ address: '198.51.100.7', host: 'sip.example.net' })] })]), /exactly one of/],
    ['no source', catalog([lab({ signalling: [{ address: '198.51.100.7', published: '2026-11-26' }] })]), /no "source" URL/],
    ['a source that is no URL', catalog([lab({ signalling: [item({ address: '198.51.100.7', source: 'a friend' })] })]), /no "source" URL/],
    ['no published date', catalog([lab({ signalling: [item({ address: '198.51.100.7', published: 'recently' })] })]), /no "published" date/],
    ['the same address twice', catalog([lab({ signalling: [item({ address: '198.51.100.7' }), item({ address: '198.51.100.7/32' })] })]), /twice/],
    ['wide that is not a boolean', catalog([lab({ wide: 'yes' })]), /"wide"/],
  ];
  for (const [what, text, want] of hostile) {
    it(`refuses a catalog with ${what}`, () => expect(refusal(text)).to.match(want));
  }

  it('accepts a wide range only when the provider is marked wide, and add then wants --allow-wide', () => {
    const text = catalog([lab({ wide: true, signalling: [item({ address: '198.48.0.0/12' })] })]);
    expect(refusal(text)).to.equal('');
    const chosen = parseProviderCatalog(text, 'x.json');
    expect(() => planProviderAdd(chosen, [], services)).to.throw(InputError, /wide ranges/);
    expect(planProviderAdd(chosen, [], services, { allowWide: true }).adds.map((e) => e.address!.cidr)).to.deep.equal(['198.48.0.0/12']);
  });
});

describe('provider add and remove planning', () => {
  const [p] = parseProviderCatalog(catalog([lab()]), 'x.json');
  const now = '2026-11-26T00:00:00.000Z';
  const admin: Entry = { name: 'home', address: { family: 4, cidr: '203.0.113.9/32', address: '203.0.113.9', prefix: 32 }, services: ['all'], source: 'admin', added: now };

  it('adds one entry per address and hostname, named <id>-<n>, source provider, services from the catalog', () => {
    const plan = planProviderAdd([p], [admin], services, { now });
    expect(plan.adds.map((e) => [e.name, e.address?.cidr ?? e.host, e.source, e.services.join(',')])).to.deep.equal([
      ['lab-trunk-1', '198.51.100.0/30', 'provider', 'sip'],
      ['lab-trunk-2', 'sip.example.net', 'provider', 'sip'],
    ]);
    expect(plan.removes).to.deep.equal([]);
  });

  it('a provider already trusted is left alone (idempotent); one whose catalog changed is rewritten whole', () => {
    const have = providerEntries(p, ['sip'], now);
    expect(trustOf(p, have)).to.equal('yes');
    expect(planProviderAdd([p], [admin, ...have], services)).to.deep.equal({ adds: [], removes: [], already: ['lab-trunk'] });
    const [moved] = parseProviderCatalog(catalog([lab({ signalling: [item({ address: '198.51.100.64/30' })] })]), 'x.json');
    expect(trustOf(moved, have)).to.equal('outdated');
    const plan = planProviderAdd([moved], [admin, ...have], services, { now });
    expect(plan.removes).to.deep.equal(['lab-trunk-1', 'lab-trunk-2']);
    expect(plan.adds.map((e) => e.address?.cidr)).to.deep.equal(['198.51.100.64/30']);
  });

  it("never overwrites an admin's entry that happens to have a provider entry's name", () => {
    const clash: Entry = { ...admin, name: 'lab-trunk-1' };
    expect(() => planProviderAdd([p], [clash], services)).to.throw(InputError, /lab-trunk-1 exists and is not provider lab-trunk's/);
  });

  it('a typo gets the nearest id; a provider needing a service this box removed is refused', () => {
    expect(() => pickProviders(['lab-trunc'], [p])).to.throw(InputError).with.property('fix').that.match(/did you mean lab-trunk\?/);
    expect(pickProviders(['LAB-TRUNK', 'lab-trunk'], [p])).to.deep.equal([p]);
    const noIax = buildCatalog({ iax: '' });
    const [iax] = parseProviderCatalog(catalog([lab({ services: ['sip', 'iax'] })]), 'x.json');
    expect(() => planProviderAdd([iax], [], noIax)).to.throw(InputError, /unknown service 'iax'/);
  });
});

describe('provider catalog loading', () => {
  let root: string;
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-prov-')); });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));
  const local = (text: string) => { fs.mkdirSync(path.join(root, 'etc/tm3'), { recursive: true }); fs.writeFileSync(path.join(root, 'etc/tm3/providers.json'), text); };

  it('/etc/tm3/providers.json adds providers and replaces a shipped one by id', async () => {
    local(catalog([lab(), lab({ id: 'twilio', name: 'my twilio', signalling: [item({ address: '198.51.100.200' })] })]));
    const all: Provider[] = await loadProviders(new Paths(root));
    expect(all.find((x) => x.id === 'lab-trunk')?.file).to.equal('/etc/tm3/providers.json');
    expect(all.find((x) => x.id === 'twilio')?.signalling.map((s) => s.address?.cidr)).to.deep.equal(['198.51.100.200/32']);
    expect(all.filter((x) => x.id === 'twilio')).to.have.length(1);
  });

  it('a broken local catalog refuses the whole catalog, naming the file', async () => {
    local(catalog([lab(), lab({ id: 'bad', signalling: [item({ address: '10.1.2.3' })] })]));
    let err: unknown;
    try { await loadProviders(new Paths(root)); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/^\/etc\/tm3\/providers\.json: provider 'bad'/);
  });

  it('a local catalog that group or others can write is refused: its addresses would be trusted', async () => {
    local(catalog([lab()]));
    fs.chmodSync(path.join(root, 'etc/tm3/providers.json'), 0o666);
    let err: unknown;
    try { await loadProviders(new Paths(root)); } catch (e) { err = e; }
    expect((err as Error).message).to.match(/providers\.json is writable by group or others \(mode 666\)/);
  });

  it('a FIFO in place of the local catalog is refused, not waited on', async () => {
    fs.mkdirSync(path.join(root, 'etc/tm3'), { recursive: true });
    await import('node:child_process').then((cp) => cp.execFileSync('mkfifo', [path.join(root, 'etc/tm3/providers.json')]));
    let err: unknown;
    try { await loadProviders(new Paths(root)); } catch (e) { err = e; }
    expect((err as Error).message).to.match(/not a regular file/);
  });
});
