import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Lab, type Host } from '../../src/lab/lab.js';
import type { ProbeSpec } from '../../src/lab/probe.js';
import { requireLab } from './prereq.js';

// The first law of migration, measured: load each legacy fixture into a lab server as the
// legacy box would (iptables-restore of its rules files, names answered by the lab's dnsmasq
// through /etc/netns/NS/resolv.conf, then its iptables-custom run by sh), probe a grid of
// (documentation source, protocol, port), migrate with --apply in a freshly emptied kernel, and
// probe the same grid. Nothing may get in afterwards that the legacy box refused, and every
// source keeps the ports the legacy box gave it beyond what it gave everyone.

const LEGACY = fileURLToPath(new URL('../fixtures/legacy/', import.meta.url));
const TCP = [21, 22, 80, 113, 443, 1723, 4445, 5060, 5061, 8443, 9001, 9022, 9080, 32976];
// (not udp/5353, which the templates open to everyone: the lab's own dnsmasq listens there)
const UDP = [69, 123, 4569, 5060, 5061, 5069, 10000, 20000];
const STRANGER = { v4: '203.0.113.250', v6: '2001:db8::250' };
const SERVER = ['192.0.2.1', '2001:db8::1'];

/**
 * Documented differences, per fixture: "+SRC PROTO/PORT" may get in only after the migration,
 * "-SRC PROTO/PORT" may lose access. Each says why; an empty list is the law with no exception.
 */
const NDP = "tm3 lets ICMPv6 neighbour discovery in, which the legacy rules.v6 dropped (INPUT DROP with no ND rule), so the legacy box's IPv6 never worked and its ports open to everyone over IPv6 become reachable";
const EXCEPTIONS: Record<string, Record<string, string>> = {
  'ubuntu14-ipbx13': { [`+${'2001:db8::250'} udp/10000`]: NDP, [`+${'2001:db8::250'} udp/20000`]: NDP },
};

type Pair = string; // "SRC proto/port"

/** Every documentation address the fixture's files name, as one host address each. */
function sources(root: string): string[] {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else for (const m of fs.readFileSync(p, 'utf8').matchAll(/(?<![\w.:])((?:192\.0\.2|198\.51\.100|203\.0\.113)\.\d+|2001:db8(?::[0-9a-f]{0,4}){1,7})(?:\/(\d+))?(?![\w.:])/g)) found.add(hostIn(m[1], m[2]));
    }
  };
  walk(root);
  return [...found].filter((a) => !SERVER.includes(a));
}

/** A network's first host (203.0.113.64/28 -> .65), or the address itself. */
function hostIn(addr: string, prefix?: string): string {
  const bits = Number(prefix ?? (addr.includes(':') ? 128 : 32));
  if (addr.includes(':')) return bits < 128 && addr.endsWith('::') ? `${addr}1` : addr;
  if (bits >= 32) return addr;
  const n = addr.split('.').map(Number).reduce((a, b) => a * 256 + b, 0);
  const net = n - (n % 2 ** (32 - bits));
  return [24, 16, 8, 0].map((s) => Math.floor((net + 1) / 2 ** s) % 256).join('.');
}

/** Names in the legacy files and their answers: the last-ip a NAME.iptables gives, or a fresh one. Names only in "#***" lines never resolve (that is why the box disabled them). */
function names(root: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let fresh = 200;
  const files = ['etc/iptables/rules.v4', 'etc/iptables/rules.v6', 'etc/sysconfig/iptables', 'usr/local/sbin/iptables-custom'].map((f) => path.join(root, f)).filter((f) => fs.existsSync(f));
  const live = files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')));
  const lastIp = (name: string) => {
    const dir = path.join(root, 'root');
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((x) => x.endsWith('.iptables')) : []) {
      const [target, last] = fs.readFileSync(path.join(dir, f), 'utf8').trim().split(/\s+/);
      if (target === name && last) return last;
    }
    return undefined;
  };
  for (const l of live) for (const m of l.matchAll(/-s\s+([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+)/g)) out[m[1]] ??= [lastIp(m[1]) ?? `203.0.113.${fresh++}`];
  return out;
}

describe('migration never opens more than the legacy box: differential probing (lab)', function () {
  this.timeout(300_000);
  const cases = fs.readdirSync(LEGACY).filter((c) => fs.existsSync(path.join(LEGACY, c, 'expected.txt')));

  it('runs over every fixture', () => expect(cases).to.include.members(['ubuntu-2016', 'debian-2018', 'blank-files', 'centos-sysconfig', 'ubuntu14-ipbx13', 'centos7-ipbx13', 'debian13-ipbx2026', 'ipbx-custom-blocks']));

  for (const c of cases) {
    describe(c, () => {
      let lab: Lab;
      let prober: Host;
      let grid: ProbeSpec[];
      let netnsDir: string;
      const rhel = !fs.existsSync(path.join(LEGACY, c, 'root/etc/debian_version')) && fs.existsSync(path.join(LEGACY, c, 'root/etc/sysconfig/iptables'));

      before(async function () {
        requireLab(this, ['dnsmasq']);
        lab = await Lab.create(1);
        [prober] = lab.clients;
        fs.cpSync(path.join(LEGACY, c, 'root'), lab.root, { recursive: true });
        const srcs = [...new Set([...sources(lab.root), ...Object.values(names(lab.root)).flat(), STRANGER.v4, STRANGER.v6])];
        // every source lives on the prober; the server reaches them all on its link
        for (const s of srcs.filter((a) => a !== prober.v4 && a !== prober.v6)) {
          await lab.exec(prober.ns, 'ip', ['addr', 'add', `${s}/${s.includes(':') ? 128 : 32}`, 'dev', 'veth-c', ...(s.includes(':') ? ['nodad'] : [])]);
        }
        for (const r of [['198.51.100.0/24'], ['203.0.113.0/24'], ['-6', '2001:db8::/32']]) await lab.exec(lab.server.ns, 'ip', [...(r[0] === '-6' ? ['-6'] : []), 'route', 'add', r[r.length - 1], 'dev', 'veth-s']);
        await lab.startResponder(TCP, UDP);
        grid = srcs.flatMap((local) => [...TCP.map((port) => ({ proto: 'tcp' as const, port })), ...UDP.map((port) => ({ proto: 'udp' as const, port }))]
          .map((p) => ({ ...p, local, host: local.includes(':') ? lab.server.v6 : lab.server.v4 })));
        // the legacy box's resolver: dnsmasq on port 53, named in the namespace's own resolv.conf
        const answers = names(lab.root);
        const hosts = path.join(lab.root, 'lab-legacy-hosts');
        fs.writeFileSync(hosts, Object.entries(answers).flatMap(([n, as]) => as.map((a) => `${a} ${n}`)).join('\n') + '\n');
        lab.spawn(lab.server.ns, 'dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--port=53', '--user=root', '--group=root', `--pid-file=${path.join(lab.root, 'lab-legacy-dnsmasq.pid')}`]);
        netnsDir = path.join('/etc/netns', lab.server.ns);
        fs.mkdirSync(netnsDir, { recursive: true });
        fs.writeFileSync(path.join(netnsDir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
        await lab.startDns(answers);
        for (let i = 0; i < 50 && !(await lab.exec(lab.server.ns, 'ss', ['-Hlun', 'sport = :53'])).stdout.includes(':53'); i++) await new Promise((r) => setTimeout(r, 100));
      });
      after(async () => {
        if (netnsDir) fs.rmSync(netnsDir, { recursive: true, force: true });
        await lab?.destroy();
      });

      const admitted = async (): Promise<Set<Pair>> => {
        const out = await lab.probe(prober, grid, 1200);
        return new Set(grid.filter((_, i) => out[i] === 'open' || out[i] === 'refused').map((p) => `${p.local} ${p.proto}/${p.port}`));
      };

      it('after tm3 migrate --apply, no pair gets in that the legacy box refused, and every source keeps its own ports', async () => {
        // the legacy box, as it boots
        for (const [file, bin] of [['etc/iptables/rules.v4', 'iptables-restore'], ['etc/sysconfig/iptables', 'iptables-restore'], ['etc/iptables/rules.v6', 'ip6tables-restore'], ['etc/sysconfig/ip6tables', 'ip6tables-restore']]) {
          const f = path.join(lab.root, file);
          if (!fs.existsSync(f)) continue;
          // a file the legacy box could not load left that family as the kernel starts: open
          const r = await lab.exec(lab.server.ns, bin, [f], { reject: false });
          if (r.exitCode !== 0) console.log(`      ${c}: the legacy ${file} does not load (${r.stderr.split('\n')[0]}): that family was open`);
        }
        const custom = path.join(lab.root, 'usr/local/sbin/iptables-custom');
        if (fs.existsSync(custom)) await lab.exec(lab.server.ns, 'sh', [custom], { reject: false });
        const before = await admitted();
        const stranger = new Set([...before].filter((p) => p.startsWith(`${STRANGER.v4} `) || p.startsWith(`${STRANGER.v6} `)).map((p) => p.split(' ')[1]));
        expect(before.size, 'the legacy rules admit someone (so the grid can tell)').to.be.greaterThan(0);

        lab.writeConfig();
        if (rhel) {
          // tm3 will not run where RHEL's iptables service would load the legacy file at boot
          const k = (await lab.exec(lab.server.ns, 'iptables-save', [])).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '');
          const r = await lab.tm3(['migrate', '--apply']);
          expect(r.exitCode, r.stderr).to.equal(2);
          expect(r.stderr).to.match(/loads its firewall at boot from \/etc\/sysconfig\/iptables/);
          expect((await lab.exec(lab.server.ns, 'iptables-save', [])).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '')).to.equal(k);
          return;
        }
        await lab.wipeKernel();
        const r = await lab.tm3(['migrate', '--apply']);
        expect(r.exitCode, `${r.stdout}\n${r.stderr}`).to.equal(0);
        const after = await admitted();

        const allowed = EXCEPTIONS[c] ?? {};
        const wider = [...after].filter((p) => !before.has(p) && !allowed[`+${p}`]);
        const lost = [...before].filter((p) => !after.has(p) && !stranger.has(p.split(' ')[1]) && !allowed[`-${p}`]);
        console.log(`      ${c}: ${grid.length} pairs; admitted ${before.size} before, ${after.size} after`);
        if (wider.length || lost.length) console.log(`      wider: ${wider.join(', ')}\n      lost: ${lost.join(', ')}`);
        expect(wider, 'admitted after the migration but refused by the legacy box').to.deep.equal([]);
        expect(lost, 'a source lost ports the legacy box gave it').to.deep.equal([]);
      });
    });
  }
});
