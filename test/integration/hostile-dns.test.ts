import { expect } from 'chai';
import { Lab, DNS_DOMAIN, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

// An FQDN entry whitelists only addresses an admin could have typed. A hostile DNS answer that
// names loopback, link-local, the server itself, or floods records is refused, said in status,
// and never reaches the kernel; the last good addresses stay.

const EVIL = `evil.${DNS_DOMAIN}`;
const FLOOD = `flood.${DNS_DOMAIN}`;

describe('hostile DNS answers (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let client: Host;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const members = async () => (await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout.split('\n').filter((l) => l.startsWith('add tm3-all-')).map((l) => l.replace(/ packets \d+ bytes \d+$/, ''));

  before(async function () {
    requireLab(this);
    lab = await Lab.create(1);
    [client] = lab.clients;
    await lab.startResponder();
    await lab.startDns({
      [EVIL]: ['127.0.0.1', '169.254.1.1', 'fe80::1', lab.server.v4, lab.server.v6, client.v4],
      [FLOOD]: [client.v4],
    });
    lab.writeConfig();
    await ok(['restart']);
  });
  after(async () => { await lab?.destroy(); });

  it('add-fqdn keeps only the client address, warns about each refused one, and status says so', async () => {
    const r = await ok(['add-fqdn', 'evil', EVIL, '--services', 'all']);
    for (const d of ['127.0.0.1 (loopback)', '169.254.1.1 (linkLocal)', 'fe80::1 (linkLocal)', `${lab.server.v4} (this server)`, `${lab.server.v6} (this server)`]) expect(r.stderr).to.include(d);
    expect(await members()).to.deep.equal([`add tm3-all-4 ${client.v4}`]);
    const st = (await ok(['status'])).stdout;
    expect(st).to.match(/evil: the last answer also held 127\.0\.0\.1 \(loopback\)/);
    expect(await lab.reaches(client, 'tcp', 22)).to.equal(true);
  });

  it('a name whose answer grows past [dns] max_addresses keeps its last good address, with a warning in status', async () => {
    await ok(['add-fqdn', 'flood', FLOOD, '--services', 'all']);
    const many = Array.from({ length: 20 }, (_, i) => `203.0.113.${i + 1}`);
    await lab.setDns({ [EVIL]: [client.v4], [FLOOD]: many });
    await ok(['refresh']);
    const all4 = await members();
    expect(all4).to.include(`add tm3-all-4 ${client.v4}`);
    expect(all4.filter((l) => l.includes('203.0.113.'))).to.deep.equal([]);
    const st = JSON.parse((await ok(['status', '--json'])).stdout) as { entries: { name: string; lastError?: string }[] };
    expect(st.entries.find((e) => e.name === 'flood')?.lastError).to.match(/20 addresses, over \[dns\] max_addresses \(16\)/);
  });
});
