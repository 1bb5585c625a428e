import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab, type Host, type SinkPacket } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

// Invariant 1 against forged sources: a trusted LAN on its own link gets in, and the same LAN
// addresses forged by a stranger on the internet side (the clients' bridge) do not, over v4 and
// v6. With tm3's raw rule gone, the very same forged packets do get in: the test can fail.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('spoofing: trusted networks cannot be forged from the internet side (lab)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let stranger: Host, lan: Host;
  let sink: { packets: SinkPacket[]; from: (src: string, proto?: 'tcp' | 'udp') => SinkPacket[] };
  const FORGED = { v4: '198.51.100.77', v6: '2001:db8:5::77' };
  const rawDrops = async (bin: string) => {
    const out = (await lab.exec(lab.server.ns, bin, ['-t', 'raw', '-L', 'PREROUTING', '-v', '-n', '-x'])).stdout;
    return out.split('\n').filter((l) => l.includes('rpfilter')).reduce((n, l) => n + Number(l.trim().split(/\s+/)[0]), 0);
  };
  const arrived = async (src: string) => { await sleep(400); return sink.from(src, 'udp').length; };

  before(async function () {
    requireLab(this);
    lab = await Lab.create(1);
    [stranger] = lab.clients;
    lan = await lab.addLan();
    sink = await lab.startSink([22], [5060]);
    lab.writeConfig();
    fs.appendFileSync(path.join(lab.root, 'etc/tm3/tm3.conf'), '[firewall]\ntrusted = 127.0.0.0/8, ::1, 198.51.100.0/24, 2001:db8:5::/64\n');
    const r = await lab.tm3(['restart']);
    expect(r.exitCode, r.stderr).to.equal(0);
  });
  after(async () => { await lab?.destroy(); });

  it('the LAN on its own link is trusted, v4 and v6', async () => {
    await lab.sendFrom(lan, lan.v4, 5060);
    await lab.sendFrom(lan, lan.v6, 5060);
    expect(await arrived(lan.v4)).to.equal(3);
    expect(await arrived(lan.v6)).to.equal(3);
  });

  it('a stranger forging a LAN source gets nothing in, v4 and v6: the raw rpfilter rule drops it', async () => {
    const [d4, d6] = [await rawDrops('iptables'), await rawDrops('ip6tables')];
    await lab.sendFrom(stranger, FORGED.v4, 5060);
    await lab.sendFrom(stranger, FORGED.v6, 5060);
    expect(await arrived(FORGED.v4), 'forged IPv4 LAN source').to.equal(0);
    expect(await arrived(FORGED.v6), 'forged IPv6 LAN source').to.equal(0);
    expect(await rawDrops('iptables') - d4).to.be.at.least(3);
    expect(await rawDrops('ip6tables') - d6).to.be.at.least(3);
  });

  it('without that rule (a weaker design) the same forged packets get in; restart puts it back', async () => {
    for (const bin of ['iptables', 'ip6tables']) await lab.exec(lab.server.ns, bin, ['-t', 'raw', '-F', 'PREROUTING']);
    await lab.sendFrom(stranger, FORGED.v4, 5060);
    await lab.sendFrom(stranger, FORGED.v6, 5060);
    expect(await arrived(FORGED.v4)).to.equal(3);
    expect(await arrived(FORGED.v6)).to.equal(3);
    expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
    await lab.sendFrom(stranger, FORGED.v4, 5060);
    expect(await arrived(FORGED.v4), 'still 3: nothing new got in').to.equal(3);
  });

  it('doctor names a trusted network that only the default route reaches, and not the LAN on its own link', async () => {
    await lab.exec(lab.server.ns, 'ip', ['route', 'add', 'default', 'via', stranger.v4]);
    try {
      lab.writeConfig();
      fs.appendFileSync(path.join(lab.root, 'etc/tm3/tm3.conf'), '[firewall]\ntrusted = 127.0.0.0/8, ::1, 198.51.100.0/24, 2001:db8:5::/64, 203.0.113.0/24\n');
      expect((await lab.tm3(['restart'])).exitCode).to.equal(0);
      const r = await lab.tm3(['doctor']);
      expect(r.exitCode).to.not.equal(0);
      const said = r.stdout + r.stderr;
      expect(said).to.match(/\[firewall\] trusted 203\.0\.113\.0\/24 is reached only through the default route \(veth-s\), so a packet from the internet can claim it/);
      expect(said).not.to.match(/trusted 198\.51\.100\.0\/24/);
      // wider than the LAN: the half beyond it comes in from the internet side
      lab.writeConfig();
      fs.appendFileSync(path.join(lab.root, 'etc/tm3/tm3.conf'), '[firewall]\ntrusted = 127.0.0.0/8, ::1, 198.51.100.0/23\n');
      expect((await lab.tm3(['doctor'])).stdout + (await lab.tm3(['doctor'])).stderr).to.match(/trusted 198\.51\.100\.0\/23 is reached partly through the default route \(veth-s\)/);
    } finally {
      await lab.exec(lab.server.ns, 'ip', ['route', 'del', 'default'], { reject: false });
    }
  });
});
