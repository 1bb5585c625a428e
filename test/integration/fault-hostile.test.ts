import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { kernelSnapshot, storeSnapshot } from './snapshots.js';
import { CANARY, addressText, hostnameText, nameText, servicesText, hostileText, plainOr, plainName, plainServices, plainAddress } from '../support/hostile.js';

// The pure validators get hundreds of cases in test/unit/hostile-input.test.ts; here a sample
// goes through the real CLI in a lab namespace, where a shell or a kernel change would show.
const RUNS = 40;
const STATE_DIRS = ['root', 'etc/iptables', 'var/lib/tm3'];

describe('fault: hostile input through the real CLI (lab, fast-check sample)', function () {
  this.timeout(300_000);
  let lab: Lab;
  let canary: string;
  let shellLog: string;
  let env: Record<string, string>;

  before(async function () {
    requireLab(this);
    lab = await Lab.create(0);
    lab.writeConfig();
    canary = path.join(lab.root, 'canary');
    // sh, bash and dash first on PATH: each records that it ran, then does the real job
    const shim = path.join(lab.root, 'shim');
    shellLog = path.join(lab.root, 'shells-run.log');
    fs.mkdirSync(shim);
    for (const s of ['sh', 'bash', 'dash']) fs.writeFileSync(path.join(shim, s), `#!/bin/dash\necho "${s} $*" >> ${shellLog}\nexec /bin/${s} "$@"\n`, { mode: 0o755 });
    env = { PATH: `${shim}:${process.env.PATH}` };
    const r = await lab.tm3(['restart']);
    expect(r.exitCode, r.stderr).to.equal(0);
  });
  after(async () => { await lab?.destroy(); });

  const fill = (t: string) => t.split(CANARY).join(canary).replace(/\0/g, '');
  // User text comes after "--", so it reaches tm3, not the option parser.
  const name = plainOr(nameText, plainName);
  const services = plainOr(servicesText, plainServices);
  const address = plainOr(addressText, plainAddress);
  const command = fc.oneof(
    fc.tuple(name, address, services).map(([n, a, s]) => ({ kind: 'add-ip', args: ['add-ip', `--services=${s}`, '--', n, a], name: n })),
    fc.tuple(name, hostnameText, services).map(([n, h, s]) => ({ kind: 'add-fqdn', args: ['add-fqdn', '--allow-unresolved', `--services=${s}`, '--', n, h], name: n })),
    name.map((n) => ({ kind: 'del-acct', args: ['del-acct', '--', n], name: n })),
    address.map((a) => ({ kind: 'knock', args: ['knock', 'grant', '--', a], name: '' })),
    hostileText.map((t) => ({ kind: 'refresh', args: ['refresh', `--reason=${t}`], name: '' })),
  ).map((c) => ({ ...c, args: c.args.map(fill), name: fill(c.name) }));

  it(`${RUNS} generated commands: refused (exit 2, one line, nothing changed) or done; never a shell`, async () => {
    const seen = { refused: 0, accepted: 0 };
    await fc.assert(fc.asyncProperty(command, async (c) => {
      const store = storeSnapshot(lab, STATE_DIRS);
      const kernel = await kernelSnapshot(lab);
      const r = await lab.tm3(c.args, { env });
      const what = `tm3 ${JSON.stringify(c.args)}\n${r.stdout}\n${r.stderr}`;
      expect(fs.existsSync(canary), `a shell ran a payload: ${what}`).to.equal(false);
      // the one shell allowed: tm3's own closing guard, a fixed script with a fixed word (refresh runs it)
      const guard = new RegExp(`^sh ${path.join(lab.root, 'usr/local/sbin/tm3-failsafe').replace(/[.+]/g, '\\$&')} (verify|check)$`);
      const shells = (fs.existsSync(shellLog) ? fs.readFileSync(shellLog, 'utf8') : '').split('\n').filter((l) => l && !guard.test(l));
      expect(shells, `a shell ran: ${what}`).to.deep.equal([]);
      expect([0, 2], what).to.include(r.exitCode);
      if (r.exitCode === 2) {
        seen.refused++;
        expect(r.stderr.trim().split('\n'), what).to.have.length(1);
        expect(r.stderr.trim(), what).to.match(/^tm3: .+ \(fix: .+\)$/);
        expect(storeSnapshot(lab, STATE_DIRS), `store changed on refusal: ${what}`).to.equal(store);
        expect(await kernelSnapshot(lab), `kernel changed on refusal: ${what}`).to.equal(kernel);
        return;
      }
      seen.accepted++;
      // accepted: an add wrote exactly the named file, a delete removed it
      if (c.kind === 'add-ip' || c.kind === 'add-fqdn') expect(fs.existsSync(path.join(lab.root, 'root', `${c.name}.iptables`)), what).to.equal(true);
      if (c.kind === 'del-acct') expect(fs.existsSync(path.join(lab.root, 'root', `${c.name}.iptables`)), what).to.equal(false);
    }), { numRuns: RUNS, endOnFailure: true });
    console.log(`      ${seen.refused} refused, ${seen.accepted} accepted`);
    expect(seen.refused, 'some refused').to.be.greaterThan(0);
    expect(seen.accepted, 'some accepted').to.be.greaterThan(0);
  });
});
