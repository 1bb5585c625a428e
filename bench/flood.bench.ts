// Packet path under a flood: a stranger floods SIP OPTIONS over IPv6 at the lab server, which
// drops every packet. Kernel CPU per dropped packet for tm3 (sets and a fixed chain), the
// original's layout (one `-A INPUT -s ADDR -j ACCEPT` per entry, then DROP) and a single DROP
// rule (the floor), each in a fresh lab, at 200 and 20,000 entries.
//
// Where the CPU goes: veth and the bridge hand each packet on in softirq on the sending CPU,
// mostly run inline as the sender's send() returns, otherwise by that CPU's ksoftirqd. This
// kernel has no IRQ time accounting, so softirq time is charged as system time to whichever
// task it ran in. The sender is pinned to one CPU; its system time plus that CPU's ksoftirqd
// system time plus every CPU second of the server namespace's processes (knockd's packet tap in
// the tm3 case) is the flood's cost. Other work on the machine does not land there, which a
// /proc/stat total would count. The sender's own send path is the same in every case, so the
// differences are the firewall's; the ratio to the floor is the goal's measure.
import fs from 'node:fs';
import os from 'node:os';
import { execa } from 'execa';
import { Lab } from '../src/lab/lab.js';
import { writeBulkEntries, bulkAddress } from '../src/lab/bulk.js';
import { median, type Section } from './report.js';

const SIZES = (process.env.TM3_BENCH_FLOOD_SIZES ?? '200,20000').split(',').map(Number);
const PACKETS = 200_000; // per run, at most
const SECONDS = 3; // per run, at most: the original's 20,000-rule chain drops a few thousand a second
const RUNS = 3;
const PORT = 5060;
const TICK = 100; // USER_HZ, the unit of /proc/PID/stat times

// SIP OPTIONS as a scanner sends them, on a connected socket: one send() per packet.
const SENDER = `
import socket, sys, time, resource, json
src, dst, port, count, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
msg = ("OPTIONS sip:100@[%s] SIP/2.0\\r\\nVia: SIP/2.0/UDP [%s]:5070;branch=z9hG4bK-flood\\r\\n"
       "From: <sip:scan@[%s]>;tag=1\\r\\nTo: <sip:100@[%s]>\\r\\nCall-ID: flood@tm3-bench\\r\\nCSeq: 1 OPTIONS\\r\\n"
       "Max-Forwards: 70\\r\\nContent-Length: 0\\r\\n\\r\\n" % (dst, src, src, dst)).encode()
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((src, 5070))
s.connect((dst, port))
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.monotonic()
sent = errors = 0
while sent < count:
    for _ in range(1000):
        try:
            s.send(msg)
        except OSError:
            errors += 1
        sent += 1
    if time.monotonic() - t0 > secs:
        break
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"sent": sent, "errors": errors, "wall": time.monotonic() - t0, "stime": r1.ru_stime - r0.ru_stime, "utime": r1.ru_utime - r0.ru_utime}))
`;

type Case = 'floor' | 'stateful' | 'tm3' | 'original';

/** utime + stime of a process, in seconds; 0 once it is gone. */
const cpuOf = (pid: number, which: 'stime' | 'both' = 'both') => {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // after "pid (comm) ": state is f[0], utime f[11], stime f[12]
    return ((which === 'both' ? Number(f[11]) : 0) + Number(f[12])) / TICK;
  } catch { return 0; }
};

const ksoftirqd = (cpu: number) => {
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try { if (fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === `ksoftirqd/${cpu}`) return Number(d); } catch { /* gone */ }
  }
  throw new Error(`no ksoftirqd/${cpu}`);
};

/** The server namespace's processes that may see packets: fail2ban-server reads logs, not packets, and polls them on its own clock. */
async function serverPids(lab: Lab): Promise<number[]> {
  const { stdout } = await execa('ip', ['netns', 'pids', lab.server.ns], { reject: false });
  const comm = (p: string) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
  return String(stdout).split('\n').filter((p) => p && !comm(p).startsWith('fail2ban')).map(Number);
}

async function counters(lab: Lab) {
  const [link] = JSON.parse((await lab.exec(lab.server.ns, 'ip', ['-s', '-j', 'link', 'show', 'veth-s'])).stdout) as { stats64: { rx: { packets: number } } }[];
  const snmp = Object.fromEntries((await lab.exec(lab.server.ns, 'cat', ['/proc/net/snmp6'])).stdout.split('\n').map((l) => l.trim().split(/\s+/)).map(([k, v]) => [k, Number(v)]));
  return { rx: link.stats64.rx.packets, udp: (snmp.Udp6InDatagrams ?? 0) + (snmp.Udp6NoPorts ?? 0) + (snmp.Udp6InErrors ?? 0) };
}

/** The original's layout, loaded in one ip6tables-restore (building it is not what is measured). */
function originalRestore(n: number): string {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]'];
  for (let i = 0; i < n; i++) lines.push(`-A INPUT -s ${bulkAddress(i)}/128 -j ACCEPT`);
  lines.push('-A INPUT -j DROP', 'COMMIT');
  return `${lines.join('\n')}\n`;
}

/** `knock`: extra [knock] config lines for the tm3 case (an experiment: 'enabled = false'). */
export async function floodCase(kind: Case, entries: number, cpu: number, knock = '') {
  const lab = await Lab.create(1);
  try {
    const [client] = lab.clients;
    if (kind === 'tm3') {
      // as installed: Fail2Ban on, so the ban sets' DROP rule is in INPUT too
      lab.writeConfig(knock, { fail2ban: true });
      writeBulkEntries(lab.root, entries);
      const r = await lab.tm3(['restart']);
      if (r.exitCode !== 0) throw new Error(`tm3 restart: ${r.stderr}`);
    } else {
      const rules = {
        floor: '-A INPUT -j DROP\n',
        // the least a stateful firewall does: conntrack looks at every packet, then one DROP
        stateful: '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n-A INPUT -j DROP\n',
      };
      await lab.exec(lab.server.ns, 'ip6tables-restore', [], { input: kind === 'original' ? originalRestore(entries) : `*filter\n:INPUT ACCEPT [0:0]\n${rules[kind]}COMMIT\n` });
    }
    // the server's firewall drops neighbour discovery in the floor and original cases: the
    // sender is told the server's MAC, as a flooder on the link would do
    const [link] = JSON.parse((await lab.exec(lab.server.ns, 'ip', ['-j', 'link', 'show', 'veth-s'])).stdout) as { address: string }[];
    await lab.exec(client.ns, 'ip', ['neigh', 'replace', lab.server.v6, 'lladdr', link.address, 'dev', 'veth-c', 'nud', 'permanent']);
    const inputRules = (await lab.exec(lab.server.ns, 'ip6tables', ['-S', 'INPUT'])).stdout.split('\n').filter((l) => l.startsWith('-A')).length;
    const soft = ksoftirqd(cpu);
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const pids = await serverPids(lab);
      const before = { c: await counters(lab), soft: cpuOf(soft, 'stime'), server: pids.map((p) => cpuOf(p)) };
      const out = await lab.exec(client.ns, 'taskset', ['-c', String(cpu), '/usr/bin/python3', '-c', SENDER, client.v6, lab.server.v6, String(PORT), String(PACKETS), String(SECONDS)]);
      const s = JSON.parse(out.stdout) as { sent: number; errors: number; wall: number; stime: number; utime: number };
      const after = { c: await counters(lab), soft: cpuOf(soft, 'stime'), server: pids.map((p) => cpuOf(p)) };
      const arrived = after.c.rx - before.c.rx;
      const delivered = after.c.udp - before.c.udp;
      const dropped = arrived - delivered;
      const serverCpu = after.server.reduce((a, x, j) => a + Math.max(0, x - before.server[j]), 0);
      const kernel = s.stime + (after.soft - before.soft) + serverCpu;
      runs.push({ sent: s.sent, sendErrors: s.errors, arrived, delivered, dropped, wallS: Number(s.wall.toFixed(3)), senderSystemS: Number(s.stime.toFixed(3)), ksoftirqdS: Number((after.soft - before.soft).toFixed(2)), serverProcessesS: Number(serverCpu.toFixed(2)), nsPerDrop: dropped ? Math.round((kernel / dropped) * 1e9) : null });
    }
    const per = runs.map((r) => r.nsPerDrop ?? Infinity);
    return { kind, entries, inputRules, nsPerDrop: median(per), runs };
  } finally {
    await lab.destroy();
  }
}

export async function benchFlood(): Promise<Section> {
  const cpu = os.cpus().length - 1; // the sender's CPU
  const load = os.loadavg()[0];
  const cases: Awaited<ReturnType<typeof floodCase>>[] = [];
  process.stderr.write('flood: floor (one DROP rule)...\n');
  cases.push(await floodCase('floor', 0, cpu));
  process.stderr.write('flood: conntrack and one DROP rule (a reference)...\n');
  cases.push(await floodCase('stateful', 0, cpu));
  for (const n of SIZES) {
    process.stderr.write(`flood: tm3 and the original with ${n} entries...\n`);
    cases.push(await floodCase('tm3', n, cpu));
    cases.push(await floodCase('original', n, cpu));
  }
  const floor = cases[0].nsPerDrop;
  const rows = cases.map((c) => ({ ...c, overFloorNs: Math.round(c.nsPerDrop - floor), ratio: Number((c.nsPerDrop / floor).toFixed(2)) }));
  const tm3Met = rows.filter((r) => r.kind === 'tm3').every((r) => r.ratio <= 1.5);
  const label = { floor: 'single DROP rule (floor)', stateful: 'conntrack + DROP (reference)', tm3: 'tm3', original: 'original (ACCEPT per entry)' };
  return {
    name: 'flood',
    data: { packetsPerRun: PACKETS, secondsPerRun: SECONDS, runs: RUNS, senderCpu: cpu, loadAtStart: load, cases: rows },
    lines: [
      `packet path under a flood: SIP OPTIONS over IPv6 from a stranger, at most ${PACKETS} packets or ${SECONDS} s per run, median of ${RUNS}`,
      '  kernel CPU per dropped packet = sender system time + its CPU\'s ksoftirqd + server namespace processes, over packets dropped',
      'case                          entries   INPUT rules   dropped/run   per drop    over floor   vs floor',
      ...rows.map((r) => `${label[r.kind].padEnd(28)}  ${String(r.entries).padStart(7)}   ${String(r.inputRules).padStart(11)}   ${String(median(r.runs.map((x) => x.dropped))).padStart(11)}   ${`${r.nsPerDrop} ns`.padStart(9)}   ${`${r.overFloorNs} ns`.padStart(10)}   ${`${r.ratio}x`.padStart(8)}`),
      `goal: tm3 within 1.5x of the floor at ${SIZES.join(' and ')} entries: ${tm3Met ? 'met' : 'NOT met'}`,
    ],
  };
}
