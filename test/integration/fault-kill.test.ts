import { expect } from 'chai';
import { Lab, DNS_DOMAIN } from '../../src/lab/lab.js';
import { writeBulkEntries } from '../../src/lab/bulk.js';
import { requireLab } from './prereq.js';
import { expectOnly, PORTS } from './access.js';

const HOST = `moving.${DNS_DOMAIN}`;
const KILLS = 20;

/** A small seeded generator, so that a failing run can be repeated with TM3_KILL_SEED. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

describe('fault: kill -9 in the middle of restart and refresh (lab)', function () {
  this.timeout(300_000);
  let lab: Lab;
  let friend: Lab['server'], stranger: Lab['server'];
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  /** How long a command takes here when nobody kills it, so kills land anywhere inside it. */
  const duration = async (args: string[]) => { const t0 = Date.now(); await ok(args); return Date.now() - t0; };

  before(async function () {
    requireLab(this);
    lab = await Lab.create(2);
    [friend, stranger] = lab.clients;
    await lab.startResponder();
    await lab.startDns({ [HOST]: ['198.51.100.50', '2001:db8:50::1'] });
    lab.writeConfig();
    // enough entries that a restart and a refresh take a while to kill in the middle of
    writeBulkEntries(lab.root, 2000);
    await ok(['restart']);
    await ok(['add-ip', 'friend', friend.v4, '--services', 'all']);
    await ok(['add-ip', 'friend6', friend.v6, '--services', 'all']);
    await ok(['add-fqdn', 'moving', HOST, '--services', 'sip']);
  });
  after(async () => { await lab?.destroy(); });

  it(`${KILLS} SIGKILLs at random moments: the stranger never gets through, and the next restart restores full service`, async () => {
    const seed = Number(process.env.TM3_KILL_SEED ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const took = { restart: await duration(['restart']), refresh: await duration(['refresh']) };
    const loops = [await lab.probeLoop(stranger, 4), await lab.probeLoop(stranger, 6)];
    const log: string[] = [];
    try {
      for (let i = 0; i < KILLS; i++) {
        const cmd = i % 2 ? 'refresh' : 'restart';
        // a new DNS answer each time, so every refresh has sets to swap when it is killed
        if (cmd === 'refresh') await lab.setDns({ [HOST]: [`198.51.100.${60 + i}`, `2001:db8:50::${i + 2}`] });
        const delay = Math.round(random() * took[cmd] * 1.1);
        const p = lab.tm3([cmd], { detached: true });
        await new Promise((r) => setTimeout(r, delay));
        // the whole process group: tm3 and whatever it runs (ipset, iptables-restore, sh)
        try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* it had finished */ }
        const r = await p;
        log.push(`${cmd} killed after ${delay} ms: ${r.signal ?? `exit ${r.exitCode}`}`);
      }
    } finally {
      const counts = await Promise.all(loops.map((l) => l.stop()));
      console.log(`      seed ${seed}; stranger: ${counts.map((c) => `${c.through} of ${c.attempts}`).join(', ')} probes through (v4, v6); ${log.filter((l) => l.includes('SIGKILL')).length} of ${KILLS} runs killed`);
      for (const c of counts) {
        expect(c.attempts, 'the stranger kept probing').to.be.greaterThan(KILLS);
        expect(c.through, `the stranger got through (seed ${seed})\n${log.join('\n')}`).to.equal(0);
      }
    }
    await ok(['restart']);
    await Promise.all([
      expectOnly(lab, friend, 4, PORTS),
      expectOnly(lab, friend, 6, PORTS),
      expectOnly(lab, stranger, 4, []),
      expectOnly(lab, stranger, 6, []),
    ]);
    const doctor = await lab.tm3(['doctor']);
    expect(doctor.exitCode, doctor.stdout).to.equal(0);
  });
});
