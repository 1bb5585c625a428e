import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Lab, type Host } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';

// Invariant 11, tried with nmap itself: a stranger's host discovery (echo, timestamp, SYN, ACK
// and UDP probes, v4 and v6, never ARP or neighbour discovery, which no one on the internet can
// send) says the host is down, even though the RTP range is open to everyone; a UDP scan of that
// range shows no closed port. A whitelisted client still hears the server's ICMP errors.

describe('stealth against nmap (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let friend: Host, stranger: Host;
  const nmap = async (who: Host, args: string[]) => (await lab.exec(who.ns, 'nmap', ['-n', '--disable-arp-ping', '--max-retries', '1', '--host-timeout', '20s', ...args], { reject: false })).stdout;

  before(async function () {
    requireLab(this, ['nmap', 'python3']);
    lab = await Lab.create(2);
    [friend, stranger] = lab.clients;
    await lab.startResponder([22, 5060], [5060]);
    lab.writeConfig();
    // tcp/8080 is open to everyone with nothing listening: the kernel would answer with a reset
    fs.appendFileSync(path.join(lab.root, 'etc/tm3/tm3.conf'), '[firewall]\nopen = udp/10000:20000, tcp/8080\n');
    const r = await lab.tm3(['restart']);
    expect(r.exitCode, r.stderr).to.equal(0);
    expect((await lab.tm3(['add-ip', 'friend', friend.v4, '--services', 'sip'])).exitCode).to.equal(0);
  });
  after(async () => { await lab?.destroy(); });

  it('host discovery from a stranger, over IPv4 and IPv6: the host is down', async () => {
    const v4 = await nmap(stranger, ['-sn', '-PE', '-PP', '-PS22,80,5060,8080', '-PA80,8080', '-PU10001,10002,5060', lab.server.v4]);
    const v6 = await nmap(stranger, ['-6', '-sn', '-PE', '-PS22,80,5060,8080', '-PA80,8080', '-PU10001,10002,5060', lab.server.v6]);
    console.log(`      nmap -sn from a stranger: ${/\(\d+ hosts? up\)/.exec(v4)?.[0]} (v4), ${/\(\d+ hosts? up\)/.exec(v6)?.[0]} (v6)`);
    expect(v4).to.match(/\(0 hosts up\)/);
    expect(v6).to.match(/\(0 hosts up\)/);
  });

  it('a UDP scan of the open RTP range from a stranger finds no closed port (no ICMP unreachable)', async () => {
    const out = await nmap(stranger, ['-Pn', '-sU', '-p', '10001-10010', lab.server.v4]);
    const rows = out.split('\n').filter((l) => /^\d+\/udp/.test(l));
    expect(out, out).not.to.match(/\b(closed)\b/);
    // nmap folds ten alike ports into one "Not shown" line; either way none is closed
    expect(rows.length + (/Not shown: 10 open\|filtered/.test(out) ? 10 : 0), out).to.be.at.least(1);
  });

  it('a whitelisted client still hears the ICMP error, so the quiet is for strangers only', async () => {
    const out = await nmap(friend, ['-sn', '-PU10001', lab.server.v4]);
    expect(out).to.match(/\(1 host up\)/);
  });

  it('no ICMP error of any kind reaches a stranger: parameter problems and reassembly timeouts, v4 and v6', async () => {
    // reassembly gives up after 30/60 s by default; this namespace's own sysctls make it 1 s
    await lab.exec(lab.server.ns, 'sysctl', ['-qw', 'net.ipv4.ipfrag_time=1', 'net.ipv6.ip6frag_time=1']);
    const PROBE = fileURLToPath(new URL('./helpers/icmp-probe.py', import.meta.url));
    const probe = async (who: Host, mode: string, v6: boolean) => (await lab.exec(who.ns, 'python3', [PROBE, mode, v6 ? who.v6 : who.v4, v6 ? lab.server.v6 : lab.server.v4, '3'])).stdout.trim();
    const modes: [string, boolean][] = [['v4opt', false], ['v4frag', false], ['v6hbh', true], ['v6frag', true]];
    const heard = await Promise.all(modes.map(([m, v6]) => probe(stranger, m, v6)));
    expect(heard).to.deep.equal(modes.map(([m]) => `${m} -> nothing`));
    // the friend hears them: each probe really draws an error, so "nothing" above is the quiet
    const friendHeard = await Promise.all(modes.map(([m, v6]) => probe(friend, m, v6)));
    for (const h of friendHeard) expect(h).to.match(/-> \['icmp(v6)? type=/);
  });

  it('a port open to everyone with nothing listening sends a stranger no TCP reset (filtered, not closed), v4 and v6', async () => {
    const state = (out: string) => /^8080\/tcp\s+(\S+)/m.exec(out)?.[1];
    expect(state(await nmap(stranger, ['-Pn', '-sS', '-p', '8080', lab.server.v4]))).to.equal('filtered');
    expect(state(await nmap(stranger, ['-6', '-Pn', '-sS', '-p', '8080', lab.server.v6]))).to.equal('filtered');
    // the friend hears the reset: the port really is closed, so the stranger's "filtered" is the quiet
    expect(state(await nmap(friend, ['-Pn', '-sS', '-p', '8080', lab.server.v4]))).to.equal('closed');
  });
});
