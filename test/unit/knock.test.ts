import { expect } from 'chai';
import { generateSequence, parseSequence, knockEntryName, COMMON_PORTS } from '../../src/model/knock.js';
import { buildCatalog } from '../../src/model/services.js';
import { spawnSync } from 'node:child_process';
import { knockFiles } from '../../src/plan/knock-files.js';
import { loadConfig, type Config } from '../../src/store/config.js';
import { Paths } from '../../src/store/paths.js';

describe('knock sequences', () => {
  const catalogRanges = [...buildCatalog().values()].flat();
  const rtp = [{ proto: 'udp' as const, from: 10000, to: 20000 }];

  it('draws three distinct ports, skipping RTP, the catalog, listening and common ports', () => {
    // a scripted "random" source that offers every bad choice first
    const offers = [5060, 15000, 3306, 8080, 22222, 22222, 4569, 40000, 9001, 1023, 50001, 65536, 33333];
    let i = 0;
    const seq = generateSequence([...rtp, ...catalogRanges], [40000], () => offers[i++]);
    expect(seq).to.deep.equal([22222, 50001, 33333]);
  });

  it('always lands in 1024-65535, off every avoided port, over many real draws', () => {
    for (let n = 0; n < 300; n++) {
      const seq = generateSequence([...rtp, ...catalogRanges], [31337]);
      expect(new Set(seq).size).to.equal(3);
      for (const p of seq) {
        expect(p).to.be.within(1024, 65535);
        expect(p >= 10000 && p <= 20000).to.equal(false);
        expect(COMMON_PORTS).not.to.include(p);
        expect(p).not.to.equal(31337);
        expect(catalogRanges.some((r) => p >= r.from && p <= r.to)).to.equal(false);
      }
    }
  });

  it('parses a stored sequence and refuses a bad one', () => {
    expect(parseSequence('23768,62019,58238')).to.deep.equal([23768, 62019, 58238]);
    for (const bad of ['1,2,3', '2000,2000,3000', '2000,3000', '2000,3000,70000', '2000,3000,40a0', '02000,3000,4000']) {
      expect(() => parseSequence(bad), bad).to.throw(/three distinct ports/);
    }
  });

  it("names permanent knock entries by their UTC timestamp, as the original", () => {
    expect(knockEntryName(new Date('2017-02-20T09:05:03Z'))).to.equal('20170220-090503');
  });
});

describe('knock grant script (knockd\'s fast path)', () => {
  let config: Config;
  before(async () => { config = await loadConfig(new Paths('/nonexistent-tm3-root')); });
  const people = [{ name: 'alice', sequence: [5001, 6002, 7003], services: ['ssh', 'sip'], seconds: 3600, until: 1_900_000_000 }, { name: 'bob-2', sequence: [5101, 6102, 7103], services: ['sip'], seconds: 60 }];
  const inputs = (tm3: string) => ({ sequence: [22222, 33333, 44444], permanent: false, interface: 'eth0', server: '192.0.2.1', tm3, people });
  const script = (p: Paths, tm3 = '/usr/bin/node /usr/lib/tm3/dist/cli/main.js') => knockFiles(config, p, inputs(tm3)).find((f) => f.path === p.knockGrant)!;

  it('is rendered with the runtime\'s tm3, the root\'s paths and the grant time, and parses as POSIX sh', () => {
    const f = script(new Paths('/srv/lab'), '/usr/bin/node /usr/lib/tm3/dist/cli/main.js --root /srv/lab');
    expect(f.path).to.equal('/srv/lab/usr/local/sbin/tm3-knock-grant');
    expect(f.mode).to.equal(0o755);
    expect(f.text).to.include(`GRANT=${config.knock.grantSeconds}\n`).and.include('STATE=/srv/lab/var/lib/tm3/knock.ini\n')
      .and.include('timeout 120 /usr/bin/node /usr/lib/tm3/dist/cli/main.js --root /srv/lab --quiet knock grant --granted "$ip"');
    const conf = knockFiles(config, new Paths('/srv/lab'), inputs('/usr/bin/node /x.js')).find((x) => x.path.endsWith('knockd.conf'))!.text;
    expect(conf).to.include('start_command = /srv/lab/usr/local/sbin/tm3-knock-grant %IP%').and.not.include('/x.js');
    expect(spawnSync('sh', ['-n'], { input: f.text }).status).to.equal(0);
    // one knockd section per person, whose command names them; the script knows their sets and end
    expect(conf).to.include('[tm3-person-bob-2]\n\tsequence      = 5101:tcp,6102:tcp,7103:tcp\n').and.include('start_command = /srv/lab/usr/local/sbin/tm3-knock-grant %IP% bob-2\n');
    expect(f.text).to.include(`alice) person=alice GRANT=3600 SERVICES=ssh,sip SETS='knock-ssh knock-sip' SVCJSON='["ssh","sip"]' UNTIL=1900000000 ;;`)
      .and.include(`bob-2) person=bob-2 GRANT=60 SERVICES=sip SETS='knock-sip' SVCJSON='["sip"]' UNTIL= ;;`);
  });

  it('refuses to render a person name that is not a plain word', () => {
    const bad = { ...inputs('/usr/bin/node /x.js'), people: [{ ...people[0], name: 'x) id;; *' }] };
    expect(() => knockFiles(config, new Paths('/'), bad)).to.throw(/refusing to render/);
  });

  it('refuses to render a tm3 command that is not plain paths', () => {
    for (const bad of ['/usr/bin/node /x.js; reboot', '/usr/bin/node $(id)', 'node /x.js']) expect(() => script(new Paths('/'), bad), bad).to.throw(/refusing to render/);
  });

  it('is shellcheck-clean (when shellcheck is installed)', function () {
    if (spawnSync('shellcheck', ['--version']).status !== 0) return this.skip();
    const r = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: script(new Paths('/')).text, encoding: 'utf8' });
    expect(r.status, r.stdout).to.equal(0);
  });
});
