import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab, DNS_DOMAIN } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

const HOST = `racer.${DNS_DOMAIN}`;
const first = Array.from({ length: 60 }, (_, i) => ({ name: `c${i}`, address: `203.0.113.${i + 1}`, services: i % 2 ? 'sip' : 'web' }));
const second = Array.from({ length: 20 }, (_, i) => ({ name: `d${i}`, address: `198.51.100.${i + 1}`, services: 'sip' }));

describe('fault: concurrent commands lose and corrupt nothing (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const members = async (set: string) => (await lab.exec(lab.server.ns, 'ipset', ['list', set])).stdout.split('\n').map((l) => l.replace(/ packets \d+ bytes \d+$/, '')).filter((l) => /^[0-9a-f.:]+(\/\d+)?$/.test(l)).sort();

  before(async function () {
    requireLab(this);
    lab = await Lab.create(0);
    await lab.startDns({ [HOST]: ['198.51.100.200'] });
    lab.writeConfig();
    await ok(['restart']);
    await ok(['add-fqdn', 'racer', HOST, '--services', 'ssh']);
  });
  after(async () => { await lab?.destroy(); });

  it('60 parallel add-ip, then 20 del-acct racing 20 add-ip and a refresh: the store is exactly right and doctor is clean', async () => {
    const adds = await Promise.all(first.map((e) => lab.tm3(['add-ip', e.name, e.address, '--services', e.services])));
    adds.forEach((r, i) => expect(r.exitCode, `add-ip ${first[i].name}: ${r.stderr}`).to.equal(0));

    await lab.setDns({ [HOST]: ['198.51.100.201'] });
    const race = await Promise.all([
      ...first.slice(0, 20).map((e) => lab.tm3(['del-acct', e.name])),
      ...second.map((e) => lab.tm3(['add-ip', e.name, e.address, '--services', e.services])),
      lab.tm3(['refresh']),
    ]);
    race.forEach((r) => expect(r.exitCode, `${r.command}: ${r.stderr}`).to.equal(0));

    const want = [...first.slice(20), ...second];
    const list = await ok(['list', '--json']);
    expect(list.stderr, 'no entry file skipped as corrupt').to.equal('');
    const listed = JSON.parse(list.stdout) as { name: string; target: string; services: string[] }[];
    expect(listed.map((e) => e.name).sort()).to.deep.equal([...want.map((e) => e.name), 'racer'].sort());
    for (const e of want) expect(listed.find((l) => l.name === e.name), e.name).to.deep.include({ target: `${e.address}/32`, services: e.services.split(',') });
    // no temp file of an atomic write left behind
    const stray = fs.readdirSync(path.join(lab.root, 'root')).filter((f) => !f.endsWith('.iptables') && !/^(add-ip|add-fqdn|del-acct|iptables-restart|iptables-knock|ipchecker|knock\.FAQ)$/.test(f));
    expect(stray).to.deep.equal([]);

    expect(await members('tm3-web-4')).to.deep.equal(want.filter((e) => e.services === 'web').map((e) => e.address).sort());
    expect(await members('tm3-sip-4')).to.deep.equal(want.filter((e) => e.services === 'sip').map((e) => e.address).sort());
    expect(await members('tm3-ssh-4'), 'the refresh swapped the new answer in').to.deep.equal(['198.51.100.201']);
    const doctor = await lab.tm3(['doctor']);
    expect(doctor.exitCode, doctor.stdout).to.equal(0);
  });
});
