// A throwaway network of namespaces for the tests, the demo and the sandbox.
// Only documentation addresses, no interface in the host namespace, and destroy() undoes it all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Outcome, ProbeSpec } from './probe.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Built files: the lab always runs the compiled CLI and helpers, like an installed system. */
export const DIST = HERE.includes(`${path.sep}src${path.sep}`) ? path.resolve(HERE, '../../dist') : path.resolve(HERE, '..');
export const CLI = path.join(DIST, 'cli/tm3.js');

export const NS_PREFIX = 'tm3lab-';
export const SERVER = { v4: '192.0.2.1', v6: '2001:db8::1' };
export const DNS_PORT = 5353;
export const DNS_DOMAIN = 'dyn.example.net';

export interface Host { ns: string; v4: string; v6: string }
export interface SinkPacket { t: number; src: string; proto: 'tcp' | 'udp'; port: number }

const sh = (cmd: string, args: string[], opts: { input?: string; reject?: boolean } = {}) =>
  execa(cmd, args, { reject: opts.reject ?? true, input: opts.input, env: { LC_ALL: 'C' } });

const STUCK_MS = 60_000;

/** A process and its children, each with its state and where in the kernel it waits. */
export function stuckReport(pid: number | undefined, what: string): string {
  const lines = [`lab: ${what} is still running after ${STUCK_MS / 1000} s; where each of its processes waits:`];
  const read = (f: string) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } };
  const walk = (p: number, depth: number) => {
    if (depth > 6) return;
    const state = /^State:\s*(.*)$/m.exec(read(`/proc/${p}/status`))?.[1] ?? 'gone';
    const cmd = read(`/proc/${p}/cmdline`).split('\0').join(' ').trim().slice(0, 160);
    const stack = read(`/proc/${p}/stack`).split('\n').slice(0, 4).map((l) => l.replace(/^\[<[0-9a-f]+>\] /, '')).filter(Boolean).join(' < ');
    lines.push(`${'  '.repeat(depth + 1)}${p} ${state} wchan=${read(`/proc/${p}/wchan`) || '?'} ${stack ? `[${stack}] ` : ''}${cmd}`);
    const kids = fs.existsSync(`/proc/${p}/task`) ? fs.readdirSync(`/proc/${p}/task`).flatMap((t) => read(`/proc/${p}/task/${t}/children`).split(' ').filter(Boolean)) : [];
    for (const k of new Set(kids)) walk(Number(k), depth + 1);
  };
  if (pid) walk(pid, 0);
  return `${lines.join('\n')}\n`;
}

/** Namespaces left by a lab whose process died (kill -9, a crashed CI job). */
export async function removeStaleLabs(): Promise<void> {
  const { stdout } = await sh('ip', ['netns', 'list'], { reject: false });
  for (const line of String(stdout).split('\n')) {
    const ns = line.split(' ')[0];
    const pid = Number(/^tm3lab-(\d+)-/.exec(ns)?.[1]);
    if (!pid) continue;
    let alive = true;
    try { process.kill(pid, 0); } catch { alive = false; }
    if (!alive) {
      // what still runs in it first (a daemon the dead run started): deleting the name alone
      // would leave it running in a namespace nobody can see
      const pids = String((await sh('ip', ['netns', 'pids', ns], { reject: false })).stdout).split('\n').map(Number).filter((x) => x > 1);
      for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      await sh('ip', ['netns', 'del', ns], { reject: false });
      // a resolv.conf a test gave the namespace (the migration oracle's legacy resolver)
      fs.rmSync(path.join('/etc/netns', ns), { recursive: true, force: true });
    }
  }
}

let counter = 0;

export class Lab {
  readonly id: string;
  readonly root: string;
  readonly server: Host;
  readonly clients: Host[];
  private namespaces: string[] = [];
  private procs: ResultPromise[] = [];
  private dns?: { proc: ResultPromise; hostsFile: string };

  private constructor(clientCount: number) {
    this.id = `${NS_PREFIX}${process.pid}-${counter++}`;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-lab-root-'));
    this.server = { ns: `${this.id}-s`, ...SERVER };
    this.clients = Array.from({ length: clientCount }, (_, i) => ({ ns: `${this.id}-c${i + 1}`, v4: `192.0.2.${10 * (i + 1)}`, v6: `2001:db8::${10 * (i + 1)}` }));
  }

  /** Server, clients and a switch namespace joined by a bridge; IPv6 ready without DAD delays. */
  static async create(clientCount = 2): Promise<Lab> {
    await removeStaleLabs();
    const lab = new Lab(clientCount);
    try {
      const sw = `${lab.id}-net`;
      await lab.addNs(sw);
      await sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
      await sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
      // the hosts side by side: each is a handful of ip commands, and a lab of six took a second
      const made = await Promise.allSettled([lab.server, ...lab.clients].map(async (host, i) => {
        await lab.addNs(host.ns);
        const inner = host === lab.server ? 'veth-s' : 'veth-c';
        await sh('ip', ['-n', host.ns, 'link', 'add', inner, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', sw]);
        await sh('ip', ['-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
        await sh('ip', ['-n', host.ns, 'addr', 'add', `${host.v4}/24`, 'dev', inner]);
        await sh('ip', ['-n', host.ns, 'addr', 'add', `${host.v6}/64`, 'dev', inner, 'nodad']);
        await sh('ip', ['-n', host.ns, 'link', 'set', inner, 'up']);
      }));
      const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /**
   * A LAN on its own link to the server (veth-lan): the server is 198.51.100.1 and 2001:db8:5::1
   * there, the returned host .2 and ::2. The clients' bridge plays the internet side.
   */
  async addLan(): Promise<Host> {
    const lan = { ns: `${this.id}-lan`, v4: '198.51.100.2', v6: '2001:db8:5::2' };
    await this.addNs(lan.ns);
    await sh('ip', ['-n', this.server.ns, 'link', 'add', 'veth-lan', 'type', 'veth', 'peer', 'name', 'veth-l', 'netns', lan.ns]);
    for (const [ns, dev, v4, v6] of [[this.server.ns, 'veth-lan', '198.51.100.1', '2001:db8:5::1'], [lan.ns, 'veth-l', lan.v4, lan.v6]]) {
      await sh('ip', ['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev]);
      await sh('ip', ['-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad']);
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    // the LAN host reaches the server's internet-side addresses through the server
    await sh('ip', ['-n', lan.ns, 'route', 'add', `${this.server.v4}/32`, 'via', '198.51.100.1']);
    await sh('ip', ['-n', lan.ns, '-6', 'route', 'add', `${this.server.v6}/128`, 'via', '2001:db8:5::1']);
    return lan;
  }

  /** Send COUNT UDP datagrams from SRC (added to the host's interface first: a forged source) to the server. */
  async sendFrom(host: Host, src: string, port: number, count = 3): Promise<void> {
    const dev = host.ns.endsWith('-lan') ? 'veth-l' : 'veth-c';
    await sh('ip', ['-n', host.ns, 'addr', 'replace', `${src}/${src.includes(':') ? 128 : 32}`, 'dev', dev, ...(src.includes(':') ? ['nodad'] : [])]);
    const dst = src.includes(':') ? this.server.v6 : this.server.v4;
    // a forged source cannot resolve the server's MAC (the answer goes to the real owner), so
    // the sender is told it, as an attacker on the link would just do
    const serverDev = dev === 'veth-l' ? 'veth-lan' : 'veth-s';
    const [link] = JSON.parse((await sh('ip', ['-n', this.server.ns, '-j', 'link', 'show', serverDev])).stdout) as { address: string }[];
    await sh('ip', ['-n', host.ns, 'neigh', 'replace', dst, 'lladdr', link.address, 'dev', dev, 'nud', 'permanent']);
    const js = `const s=require('dgram').createSocket('${src.includes(':') ? 'udp6' : 'udp4'}');s.bind({address:'${src}'},()=>{let n=0;const t=setInterval(()=>{s.send('tm3-spoof',${port},'${dst}');if(++n>=${count}){clearInterval(t);setTimeout(()=>s.close(),100)}},50)})`;
    await this.exec(host.ns, process.execPath, ['-e', js]);
  }

  private async addNs(ns: string) {
    await sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.keep_addr_on_down=1', 'net.ipv6.conf.default.keep_addr_on_down=1']);
  }

  /** Run a command inside a namespace. */
  exec(ns: string, cmd: string, args: string[], opts: { input?: string; reject?: boolean } = {}) {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  /** tm3 on the lab server, with the lab root. `detached`: its own process group, for kill -9 tests. */
  tm3(args: string[], opts: { env?: Record<string, string>; input?: string; detached?: boolean } = {}) {
    const p = execa('ip', ['netns', 'exec', this.server.ns, process.execPath, CLI, '--root', this.root, ...args], {
      reject: false, input: opts.input ?? '', env: { TM3_NO_SYSLOG: '1', LC_ALL: 'C', ...opts.env }, detached: opts.detached,
    });
    // A call still running after a minute says where it waits (once seen in CI: a 180 s
    // `provider list`, never reproduced). Nothing is killed: the test's own timeout decides.
    const timer = setTimeout(() => process.stderr.write(stuckReport(p.pid, `tm3 ${args.join(' ')}`)), STUCK_MS);
    timer.unref();
    p.then(() => clearTimeout(timer), () => clearTimeout(timer));
    return p;
  }

  /** Start a long-running process in a namespace; destroy() stops it. */
  spawn(ns: string, cmd: string, args: string[]): ResultPromise {
    const p = execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false, stdin: 'ignore', buffer: false });
    this.procs.push(p);
    return p;
  }

  /** Listeners on the server for every port the tests probe. */
  async startResponder(tcp = [21, 22, 80, 443, 4445, 5060, 9001], udp = [69, 4569, 5060, 10000]): Promise<void> {
    const p = execa('ip', ['netns', 'exec', this.server.ns, process.execPath, path.join(DIST, 'lab/responder.js'), tcp.join(','), udp.join(',')], { reject: false, stdin: 'ignore' });
    this.procs.push(p);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('responder did not start')), 10_000);
      p.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(t); resolve(); } });
      p.then((r) => { clearTimeout(t); reject(new Error(`responder exited: ${r.stderr}`)); }, reject);
    });
  }

  /** Probe the server from a client; returns one outcome per spec. */
  async probe(client: Host, specs: ProbeSpec[], timeoutMs = 800): Promise<Outcome[]> {
    const { stdout } = await this.exec(client.ns, process.execPath, [path.join(DIST, 'lab/probe.js'), String(timeoutMs), JSON.stringify(specs)]);
    return JSON.parse(stdout) as Outcome[];
  }

  /** Knock from a client: one real SYN to each port, in order. */
  async knock(client: Host, ports: number[], family: 4 | 6 = 4): Promise<void> {
    await this.exec(client.ns, process.execPath, [path.join(DIST, 'lab/probe.js'), 'knock', family === 4 ? this.server.v4 : this.server.v6, ports.join(',')]);
  }

  /** Does `client` get through to port/proto over v4 or v6? */
  async reaches(client: Host, proto: 'tcp' | 'udp', port: number, family: 4 | 6 = 4): Promise<boolean> {
    const [o] = await this.probe(client, [{ proto, port, host: family === 4 ? this.server.v4 : this.server.v6 }]);
    return o === 'open' || o === 'refused';
  }

  /**
   * A client that keeps probing tcp/udp until stopped; stop() says how many got through.
   * A stranger uses the short default wait; a whitelisted client counting lost packets waits
   * longer, so that a slow answer on a busy machine is not counted as a loss.
   */
  async probeLoop(client: Host, family: 4 | 6, tcpPort = 22, udpPort = 5060, waitMs = 150) {
    const p = execa('ip', ['netns', 'exec', client.ns, process.execPath, path.join(DIST, 'lab/probe-loop.js'), family === 4 ? this.server.v4 : this.server.v6, String(tcpPort), String(udpPort), String(waitMs)], { reject: false, stdin: 'ignore' });
    this.procs.push(p);
    await new Promise<void>((resolve) => p.stdout?.once('data', () => resolve()));
    return {
      stop: async (): Promise<{ attempts: number; through: number }> => {
        p.kill('SIGTERM');
        const r = await p;
        return JSON.parse(String(r.stdout).trim().split('\n').pop() ?? '{}');
      },
    };
  }

  /** The flow sink on the server: `packets` fills with every packet it receives, as it arrives. */
  async startSink(tcp = [22], udp = [5060]): Promise<{ packets: SinkPacket[]; from: (src: string, proto?: 'tcp' | 'udp') => SinkPacket[] }> {
    const p = execa('ip', ['netns', 'exec', this.server.ns, process.execPath, path.join(DIST, 'lab/flow-sink.js'), tcp.join(','), udp.join(',')], { reject: false, stdin: 'ignore', buffer: false });
    this.procs.push(p);
    const packets: SinkPacket[] = [];
    let rest = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('flow sink did not start')), 10_000);
      p.stdout?.on('data', (d: Buffer) => {
        const lines = (rest + d.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) {
          if (l === 'ready') { clearTimeout(t); resolve(); } else if (l) packets.push(JSON.parse(l) as SinkPacket);
        }
      });
      p.then(() => { clearTimeout(t); reject(new Error('flow sink exited')); }, reject);
    });
    return { packets, from: (src, proto) => packets.filter((x) => x.src === src && (!proto || x.proto === proto)) };
  }

  /** One long-lived flow from a client (a TCP session, or UDP from one source port), every intervalMs. */
  async flow(client: Host, family: 4 | 6, proto: 'tcp' | 'udp', port: number, intervalMs = 200) {
    const p = execa('ip', ['netns', 'exec', client.ns, process.execPath, path.join(DIST, 'lab/flow-source.js'), proto, family === 4 ? this.server.v4 : this.server.v6, String(port), String(intervalMs)], { reject: false, stdin: 'ignore' });
    this.procs.push(p);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${proto}/${port} flow from ${client.ns} did not connect`)), 5_000);
      p.stdout?.once('data', () => { clearTimeout(t); resolve(); });
    });
    return {
      stop: async (): Promise<{ sent: number; echoed: number }> => {
        p.kill('SIGTERM');
        const r = await p;
        return JSON.parse(String(r.stdout).trim().split('\n').pop() ?? '{}');
      },
    };
  }

  /** Forget everything the server's kernel holds, as a power cycle would. */
  async wipeKernel(): Promise<void> {
    // the two families at once (each its own table); the sets once no rule uses them
    await Promise.all(['iptables', 'ip6tables'].map(async (bin) => {
      await this.exec(this.server.ns, bin, ['-w', '-P', 'INPUT', 'ACCEPT']);
      await this.exec(this.server.ns, bin, ['-w', '-P', 'FORWARD', 'ACCEPT']);
      await this.exec(this.server.ns, bin, ['-w', '-F']);
      await this.exec(this.server.ns, bin, ['-w', '-X']);
    }));
    await this.exec(this.server.ns, 'ipset', ['destroy']);
  }

  async link(up: boolean): Promise<void> {
    await this.exec(this.server.ns, 'ip', ['link', 'set', 'veth-s', up ? 'up' : 'down']);
  }

  /**
   * Boot as Debian would: netfilter-persistent with the staged /etc/iptables bind-mounted in a
   * private mount namespace, then the ExecStart lines of tm3-firewall.service in order.
   */
  async boot(opts: { allowFail?: boolean } = {}): Promise<string[]> {
    const log: string[] = [];
    const np = await this.exec(this.server.ns, 'unshare', ['-m', 'sh', '-c', 'mount --bind "$1" /etc/iptables && exec netfilter-persistent start', 'boot', path.join(this.root, 'etc/iptables')], { reject: false });
    log.push(`netfilter-persistent start: exit ${np.exitCode} ${np.stdout} ${np.stderr}`.trim());
    const unit = fs.readFileSync(path.join(this.root, 'etc/systemd/system/tm3-firewall.service'), 'utf8');
    for (const line of unit.split('\n').filter((l) => l.startsWith('ExecStart='))) {
      const cmd = line.slice('ExecStart='.length);
      const ignoreFailure = cmd.startsWith('-');
      const [bin, ...args] = cmd.replace(/^-/, '').split(' ');
      const r = await this.exec(this.server.ns, bin, args, { reject: false });
      log.push(`${cmd}: exit ${r.exitCode} ${r.stderr}`.trim());
      if (r.exitCode !== 0 && !ignoreFailure && !opts.allowFail) throw new Error(`boot step failed: ${cmd}\n${log.join('\n')}`);
    }
    return log;
  }

  /**
   * dnsmasq on the server's loopback answering for *.dyn.example.net from a hosts file.
   * `forward`: queries for that domain go to 127.0.0.1:port instead (a black hole, for a dead upstream).
   */
  async startDns(records: Record<string, string[]>, forward?: { domain: string; port: number }): Promise<void> {
    const hostsFile = path.join(this.root, 'lab-dns-hosts');
    this.writeHosts(hostsFile, records);
    const proc = this.spawn(this.server.ns, 'dnsmasq', [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--addn-hosts=${hostsFile}`,
      '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${DNS_PORT}`, `--local=/${DNS_DOMAIN}/`,
      '--user=root', '--group=root', `--pid-file=${path.join(this.root, 'lab-dnsmasq.pid')}`,
      // dnsmasq holds each unanswered forward for a while; past 150 of them it refuses at once,
      // which would turn the black hole into a fast failure
      ...(forward ? [`--server=/${forward.domain}/127.0.0.1#${forward.port}`, '--dns-forward-max=10000'] : []),
    ]);
    this.dns = { proc, hostsFile };
    for (let i = 0; i < 50; i++) {
      const { stdout } = await this.exec(this.server.ns, 'ss', ['-Hlun', `sport = :${DNS_PORT}`], { reject: false });
      if (String(stdout).includes(`:${DNS_PORT}`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('dnsmasq did not start');
  }

  /** In place of dnsmasq: a DNS server that swallows queries; stop() returns how many it got. */
  async startDnsBlackhole(port = DNS_PORT) {
    const p = execa('ip', ['netns', 'exec', this.server.ns, process.execPath, path.join(DIST, 'lab/dns-blackhole.js'), '127.0.0.1', String(port)], { reject: false, stdin: 'ignore' });
    this.procs.push(p);
    await new Promise<void>((resolve) => p.stdout?.once('data', () => resolve()));
    return { stop: async () => { p.kill('SIGTERM'); return Number(String((await p).stdout).trim().split('\n').pop()); } };
  }

  /** Change the answers and tell dnsmasq to reread them (SIGHUP), as a dynamic-DNS update would. */
  async setDns(records: Record<string, string[]>): Promise<void> {
    if (!this.dns) throw new Error('startDns first');
    this.writeHosts(this.dns.hostsFile, records);
    this.dns.proc.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
  }

  async stopDns(): Promise<void> {
    if (!this.dns) return;
    this.dns.proc.kill('SIGTERM');
    await this.dns.proc.catch(() => undefined);
    this.dns = undefined;
  }

  private writeHosts(file: string, records: Record<string, string[]>) {
    const lines = Object.entries(records).flatMap(([name, addrs]) => addrs.map((a) => `${a} ${name}`));
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  }

  /** The [dns] config that points tm3 at the lab's dnsmasq. */
  writeConfig(knockExtra = '', opts: { fail2ban?: boolean } = {}): void {
    fs.mkdirSync(path.join(this.root, 'etc/tm3'), { recursive: true });
    // Fail2Ban runs only in the labs that test it: elsewhere the restart order skips it.
    fs.writeFileSync(path.join(this.root, 'etc/tm3/tm3.conf'), `[dns]\nservers = 127.0.0.1:${DNS_PORT}\ntimeout_ms = 1000\n[fail2ban]\nenabled = ${Boolean(opts.fail2ban)}\n[knock]\ninterface = veth-s\n${knockExtra}`);
  }

  /** Stop every process, delete every namespace and the root. Safe to call twice. */
  async destroy(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    await Promise.allSettled(this.procs);
    this.procs = [];
    // daemons tm3 started itself in the lab (knockd, fail2ban): whatever still runs in a namespace
    for (const ns of this.namespaces) {
      const { stdout } = await sh('ip', ['netns', 'pids', ns], { reject: false });
      for (const pid of String(stdout).split('\n').filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const ns of this.namespaces.reverse()) await sh('ip', ['netns', 'del', ns], { reject: false });
    this.namespaces = [];
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
