import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { execa, type ResultPromise } from 'execa';
import { DIST } from '../../../src/lab/lab.js';
import type { Outcome, ProbeSpec } from '../../../src/lab/probe.js';

// A Debian 12 guest with systemd as pid 1 under systemd-nspawn (scripts/guest/guestctl.sh), in a
// network namespace of ours: guest eth0 192.0.2.10 / 2001:db8::10, configured by the guest itself;
// the client side NAME-c (192.0.2.20 / 2001:db8::20 and whatever a test adds) outlives reboots.

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CTL = path.join(REPO, 'scripts/guest/guestctl.sh');
export const RUN = '/var/cache/tm3/guest/run';
export const GUEST4 = '192.0.2.10';
export const GUEST6 = '2001:db8::10';

export class Guest {
  private dns?: ResultPromise;
  constructor(readonly name: string) {}

  ctl(...args: string[]) { return execa('bash', [CTL, ...args], { reject: false, stdin: 'ignore' }); }
  async must(...args: string[]) {
    const r = await this.ctl(...args);
    expect(r.exitCode, `guestctl ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout.trim();
  }
  get root() { return path.join(RUN, this.name, 'root'); }

  /** A command in the guest as a unit of its own systemd (its capabilities, a clean environment). */
  async exec(cmd: string, timeoutSec = 120) {
    const leader = (await execa('bash', ['-c', `for c in $(pgrep -P "$(cat ${RUN}/${this.name}/nspawn.pid)"); do [ "$(cat /proc/$c/comm)" = systemd ] && echo $c; done | head -1`])).stdout.trim();
    return execa('nsenter', ['-t', leader, '-a', 'systemd-run', '--quiet', '--wait', '--pipe', '--collect', `--property=RuntimeMaxSec=${timeoutSec}`, '-E', 'HOME=/root', '-E', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--', 'sh', '-c', cmd], { reject: false, stdin: 'ignore' });
  }
  async ok(cmd: string, timeoutSec = 120) {
    const r = await this.exec(cmd, timeoutSec);
    expect(r.exitCode, `${cmd}:\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r.stdout;
  }

  /** Start the guest in a fresh namespace (empty netfilter); resolves to is-system-running. */
  async boot(opts: { cable?: 'up' | 'down'; nic?: boolean; until?: string } = {}) {
    if (opts.nic === false) {
      await this.must('net-up', this.name);
      // no NIC at all until plug(): the guest's namespace has only lo
      await execa('ip', ['-n', this.name, 'link', 'del', 'eth0']);
    } else {
      await this.must('net-up', this.name);
      if (opts.cable === 'down') await this.must('cable', this.name, 'down');
    }
    return this.must('boot', this.name, ...(opts.until ? [opts.until] : []));
  }
  /** poweroff (or reboot) from inside, wait for nspawn to exit, boot again in a fresh namespace. */
  async cycle(how: 'poweroff' | 'reboot' = 'poweroff', opts: { cable?: 'up' | 'down'; nic?: boolean } = {}) {
    await this.exec(`systemctl ${how} --no-block`);
    expect(await this.must('wait-exit', this.name)).to.equal(how === 'reboot' ? '133' : '0');
    return this.boot(opts);
  }
  /** A NIC that appears after boot (hotplug): a new veth into the running guest's namespace. */
  async plugNic() {
    await execa('ip', ['-n', `${this.name}-c`, 'link', 'del', 'vg0'], { reject: false });
    await execa('ip', ['-n', this.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'vg0', 'netns', `${this.name}-c`]);
    await execa('ip', ['-n', `${this.name}-c`, 'link', 'set', 'vg0', 'master', 'br0', 'up']);
  }

  /** Probes from the client side; `local` picks one of the client's addresses. */
  async probe(specs: ProbeSpec[], timeoutMs = 800): Promise<Outcome[]> {
    const r = await execa('ip', ['netns', 'exec', `${this.name}-c`, process.execPath, path.join(DIST, 'lab/probe.js'), String(timeoutMs), JSON.stringify(specs)]);
    return JSON.parse(r.stdout) as Outcome[];
  }
  /** Probe until the answer is one of `want` or the time is up; returns the last outcome. */
  async probeUntil(spec: ProbeSpec, want: Outcome[], ms: number): Promise<Outcome> {
    let last: Outcome = 'timeout';
    for (const t0 = Date.now(); Date.now() - t0 < ms;) {
      last = (await this.probe([spec], 500))[0];
      if (want.includes(last)) return last;
    }
    return last;
  }
  knock(seq: number[]) {
    return execa('ip', ['netns', 'exec', `${this.name}-c`, process.execPath, path.join(DIST, 'lab/probe.js'), 'knock', GUEST4, seq.join(',')]);
  }

  /** dnsmasq on the client side at 192.0.2.53, the guest's resolver, answering from a hosts file. */
  async startDns(records: Record<string, string[]>) {
    await this.stopDns(); // one server at a time, even after a test that failed half way
    const hosts = path.join(RUN, this.name, 'dns-hosts');
    fs.writeFileSync(hosts, Object.entries(records).flatMap(([n, as]) => as.map((a) => `${a} ${n}`)).join('\n') + '\n');
    await execa('ip', ['-n', `${this.name}-c`, 'addr', 'replace', '192.0.2.53/24', 'dev', 'br0']);
    this.dns = execa('ip', ['netns', 'exec', `${this.name}-c`, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--listen-address=192.0.2.53', '--bind-interfaces', '--user=root', '--group=root', `--pid-file=${hosts}.pid`], { reject: false, stdin: 'ignore' });
    for (let i = 0; i < 50; i++) {
      if ((await execa('ip', ['netns', 'exec', `${this.name}-c`, 'ss', '-Hlun', 'sport = :53'])).stdout.includes('192.0.2.53')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('dnsmasq did not start on the client side');
  }
  /** Change the answers while dnsmasq runs (SIGHUP rereads the hosts file). */
  async setDns(records: Record<string, string[]>) {
    const hosts = path.join(RUN, this.name, 'dns-hosts');
    fs.writeFileSync(hosts, Object.entries(records).flatMap(([n, as]) => as.map((a) => `${a} ${n}`)).join('\n') + '\n');
    this.dns?.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
  }
  /** DNS down the hard way: no server and no address, so queries time out instead of failing fast. */
  async stopDns() {
    this.dns?.kill('SIGTERM');
    await this.dns?.catch(() => undefined);
    this.dns = undefined;
    await execa('ip', ['-n', `${this.name}-c`, 'addr', 'del', '192.0.2.53/24', 'dev', 'br0'], { reject: false });
  }

  async destroy() {
    this.dns?.kill('SIGKILL');
    await this.ctl('destroy', this.name);
  }
}

/** Guests of a test run that died (kill -9, a crashed CI job): stopped, unmounted, namespaces gone. */
export async function reapDeadGuests() {
  for (const d of fs.existsSync(RUN) ? fs.readdirSync(RUN) : []) {
    const pid = Number(/^tm3boot\w*-(\d+)$/.exec(d)?.[1]);
    let alive = false;
    try { if (pid) { process.kill(pid, 0); alive = true; } } catch { /* gone */ }
    if (pid && !alive) await execa('bash', [CTL, 'destroy', d], { reject: false, stdin: 'ignore' });
  }
}

/** The image, built once and cached (scripts/guest/build-rootfs.sh); a failed build fails, never skips. */
export async function ensureImage() {
  const t = Date.now();
  const build = await execa('bash', [path.join(REPO, 'scripts/guest/build-rootfs.sh')], { reject: false, stdin: 'ignore', timeout: 900_000 });
  expect(build.exitCode, `scripts/guest/build-rootfs.sh failed:\n${build.stdout.slice(-2000)}\n${build.stderr.slice(-2000)}`).to.equal(0);
  console.log(`      guest image ready in ${((Date.now() - t) / 1000).toFixed(1)} s (${/rootfs cached/.test(build.stdout) ? 'cached' : 'built'})`);
}

/** `npm pack` of this checkout into DIR; returns the tarball's path. */
export async function packTarball(dir: string) {
  const pack = await execa('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, reject: false });
  expect(pack.exitCode, pack.stderr).to.equal(0);
  return path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
}
