import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

// Permanent knock mode must not be a way to fill the store: spoofed right knocks from many
// addresses (knockd cannot tell) make at most [knock] max_permanent_per_hour entries, a
// knock from the server or a trusted network never makes one, and a banned address gets nothing.

describe('knock caps (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const knockEntries = async () => JSON.parse((await ok(['list', '--json'])).stdout).filter((e: { source: string }) => e.source === 'knock').map((e: { target: string }) => e.target);

  before(async function () {
    requireLab(this);
    lab = await Lab.create(1);
    lab.writeConfig('max_permanent_per_hour = 3\n');
    await ok(['restart']);
    await ok(['knock', 'activate']);
  });
  after(async () => { await lab?.destroy(); });

  it('a knock from a trusted network or the server itself gets a timed grant and no entry; a banned address gets no grant at all', async () => {
    await lab.exec(lab.server.ns, 'ipset', ['create', 'tm3-ban-4', 'hash:ip', 'timeout', '0']);
    await lab.exec(lab.server.ns, 'ipset', ['add', 'tm3-ban-4', '203.0.113.99']);
    for (const [ip, why] of [['10.9.9.9', /in a trusted network/], [lab.server.v4, /an address of this server/]] as const) {
      const r = await ok(['knock', 'grant', ip]);
      expect(r.stderr).to.match(why);
    }
    const ban = await lab.tm3(['knock', 'grant', '203.0.113.99']);
    expect(ban.exitCode, ban.stderr).to.equal(2);
    expect(ban.stderr).to.match(/203\.0\.113\.99 is banned: no grant/);
    expect(await knockEntries()).to.deep.equal([]);
    const grants = JSON.parse((await ok(['knock', 'status', '--json'])).stdout).grants.map((g: { address: string }) => g.address);
    expect(grants.sort()).to.deep.equal(['10.9.9.9', lab.server.v4].sort());
  });

  it('70 spoofed right knocks make 3 permanent entries; the rest stay timed, said in knock status and status', async () => {
    const ips = Array.from({ length: 70 }, (_, i) => `198.51.100.${i + 1}`);
    const said: string[] = [];
    // the first three in order (they take the cap), the other 67 eight at a time, as knockd runs
    // its commands when knocks arrive together: the cap holds under tm3's lock all the same
    for (const ip of ips.slice(0, 3)) said.push((await ok(['knock', 'grant', ip])).stderr);
    for (let i = 3; i < ips.length; i += 8) said.push(...(await Promise.all(ips.slice(i, i + 8).map((ip) => ok(['knock', 'grant', ip])))).map((r) => r.stderr));
    expect(await knockEntries()).to.deep.equal(['198.51.100.1/32', '198.51.100.2/32', '198.51.100.3/32']);
    expect(said.filter((s) => /reach \[knock\] max_permanent_per_hour \(3\)/.test(s))).to.have.length(67);
    expect((await ok(['knock', 'status'])).stdout).to.match(/3 of at most 3 in the last hour: CAPPED/);
    expect((await ok(['status'])).stdout).to.match(/3 permanent knock entries in the last hour reach \[knock\] max_permanent_per_hour/);
    console.log(`      70 knocks: ${(await knockEntries()).length} permanent entries, ${said.filter((s) => /CAPPED|reach/.test(s)).length} timed only`);
  });
});
