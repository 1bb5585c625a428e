import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab, DNS_DOMAIN, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { expectOnly, PORTS } from './access.js';

// tm3 provider add/remove with real packets. The shipped catalog holds real provider addresses,
// which must never be packet sources here: the lab's /etc/tm3/providers.json adds test providers
// on documentation addresses (the local catalog is the documented way to add a provider).

const DYN = `sip.${DNS_DOMAIN}`;
const EVIL = `evil.${DNS_DOMAIN}`;
const SRC = 'https://example.org/lab/firewall';

describe('trusted providers (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let trunk: Host, dyn: Host, stranger: Host;
  const run = (args: string[]) => lab.tm3(args);
  const ok = async (args: string[]) => {
    const r = await run(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const store = () => Object.fromEntries(fs.readdirSync(path.join(lab.root, 'root')).filter((f) => f.endsWith('.iptables')).sort().map((f) => [f, fs.readFileSync(path.join(lab.root, 'root', f), 'utf8')]));
  const members = async () => (await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout.split('\n').filter((l) => /^add tm3-/.test(l)).sort();
  const SIP: ('tcp/5060' | 'udp/5060')[] = ['tcp/5060', 'udp/5060'];

  before(async function () {
    requireLab(this);
    lab = await Lab.create(3);
    [trunk, dyn, stranger] = lab.clients;
    await lab.startResponder();
    await lab.startDns({ [DYN]: [dyn.v4], [EVIL]: [lab.server.v4, '127.0.0.1'] });
    lab.writeConfig();
    const item = (k: 'address' | 'host', v: string) => ({ [k]: v, region: 'lab', source: SRC, published: 'retrieved 2026-11-26' });
    fs.writeFileSync(path.join(lab.root, 'etc/tm3/providers.json'), JSON.stringify({
      format: 1,
      providers: [
        { id: 'lab-trunk', name: 'Lab trunk', services: ['sip'], signalling: [item('address', trunk.v4), item('address', trunk.v6)] },
        { id: 'lab-dyn', name: 'Lab trunk by name', services: ['sip'], signalling: [item('host', DYN)] },
        { id: 'lab-evil', name: 'Lab trunk with a hostile DNS answer', services: ['sip'], signalling: [item('host', EVIL)] },
      ],
    }));
    await ok(['restart']);
  });
  after(async () => { await lab?.destroy(); });

  it('before: the trunk reaches nothing (so the checks below can fail)', async () => {
    await Promise.all([
      expectOnly(lab, trunk, 4, []),
      expectOnly(lab, trunk, 6, []),
    ]);
  });

  it('provider list shows the catalog, none trusted', async () => {
    const { providers } = JSON.parse((await ok(['provider', 'list', '--json'])).stdout) as { providers: { id: string; trusted: string }[] };
    expect(providers.filter((p) => p.id.startsWith('lab-')).map((p) => [p.id, p.trusted])).to.deep.equal([['lab-trunk', 'no'], ['lab-dyn', 'no'], ['lab-evil', 'no']]);
    expect(providers.map((p) => p.id)).to.include('twilio');
  });

  it('a typo in the id is refused with the nearest id, and changes nothing', async () => {
    const before = store();
    const r = await run(['provider', 'add', 'lab-trunk', 'lab-trunc']);
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(/unknown provider 'lab-trunc' \(fix: did you mean lab-trunk\?/);
    expect(store()).to.deep.equal(before);
    await expectOnly(lab, trunk, 4, []);
  });

  it('--dry-run shows the entries and the kernel change, and changes nothing', async () => {
    const r = await ok(['provider', 'add', 'lab-trunk', '--dry-run']);
    expect(r.stdout).to.include('lab-trunk-1.iptables').and.include('source=provider').and.include(trunk.v4);
    expect(store()).to.deep.equal({});
    await expectOnly(lab, trunk, 4, []);
  });

  it('provider add lets the trunk reach SIP and not SSH, over IPv4 and IPv6; a hostname is resolved and followed', async () => {
    await ok(['provider', 'add', 'lab-trunk', 'lab-dyn']);
    await Promise.all([
      expectOnly(lab, trunk, 4, SIP),
      expectOnly(lab, trunk, 6, SIP),
      expectOnly(lab, dyn, 4, SIP),
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, stranger, 6, []),
    ]);
    const list = JSON.parse((await ok(['list', '--json'])).stdout) as { name: string; source: string; target: string }[];
    expect(list.map((e) => [e.name, e.source, e.target])).to.deep.equal([
      ['lab-dyn-1', 'provider', DYN], ['lab-trunk-1', 'provider', `${trunk.v4}/32`], ['lab-trunk-2', 'provider', `${trunk.v6}/128`],
    ]);
  });

  it('adding a trusted provider again changes nothing', async () => {
    const [files, kernel] = [store(), await members()];
    const r = await ok(['provider', 'add', 'lab-trunk']);
    expect(r.stdout).to.include('provider lab-trunk is already trusted');
    expect(store()).to.deep.equal(files);
    expect(await members()).to.deep.equal(kernel);
  });

  it('a provider hostname gets add-fqdn\'s hostile-DNS checks: the server\'s own address and loopback never reach the kernel', async () => {
    const before = await members();
    const r = await run(['provider', 'add', 'lab-evil']);
    expect(r.stderr).to.include(`${lab.server.v4} (this server)`).and.include('127.0.0.1 (loopback)');
    expect(r.exitCode).to.equal(2);
    expect(await members()).to.deep.equal(before);
    expect(Object.keys(store())).not.to.include('lab-evil-1.iptables');
  });

  it('provider remove --dry-run names the entries and keeps them; remove cuts the trunk off, the other provider stays', async () => {
    const dry = await ok(['provider', 'remove', 'lab-trunk', '--dry-run']);
    expect(dry.stdout).to.include('would delete').and.include('lab-trunk-1.iptables').and.include('lab-trunk-2.iptables');
    await expectOnly(lab, trunk, 4, SIP);
    await ok(['provider', 'remove', 'lab-trunk']);
    await Promise.all([
      expectOnly(lab, trunk, 4, []),
      expectOnly(lab, trunk, 6, []),
      expectOnly(lab, dyn, 4, SIP),
    ]);
    expect(Object.keys(store())).to.deep.equal(['lab-dyn-1.iptables']);
    const again = await ok(['provider', 'remove', 'lab-trunk']);
    expect(again.stdout).to.include('not trusted');
  });

  it("an admin's own entry is never touched by provider remove, even with a provider-like name", async () => {
    await ok(['add-ip', 'lab-trunk-1', trunk.v4, '--services', 'ssh']);
    const r = await ok(['provider', 'remove', 'lab-trunk']);
    expect(r.stdout).to.include('not trusted');
    await expectOnly(lab, trunk, 4, ['tcp/22'], PORTS);
    const add = await run(['provider', 'add', 'lab-trunk']);
    expect(add.exitCode).to.equal(2);
    expect(add.stderr).to.include('lab-trunk-1 exists and is not provider lab-trunk\'s');
    await ok(['del-acct', 'lab-trunk-1']);
  });
});
