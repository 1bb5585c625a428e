import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Lab } from '../../src/lab/lab.js';
import { requireLab } from './prereq.js';
import { reachable } from './access.js';

// Per-entry hit counters (ipset `counters` on the whitelist sets) and `tm3 list --stale`, on a
// real kernel: an upgrade from sets made without counters, counts that survive a swap, the
// failsafe that must not take a count for a difference, and stale entries found by real packets.

const DAY = 86_400_000;

describe('hit counters and tm3 list --stale (lab)', function () {
  this.timeout(180_000);
  let lab: Lab;
  let phone: Lab['server'], quiet: Lab['server'], other: Lab['server'];
  const ok = async (args: string[]) => {
    const r = await lab.tm3(args);
    expect(r.exitCode, `tm3 ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };
  const save = async (set: string) => (await lab.exec(lab.server.ns, 'ipset', ['save', set])).stdout;
  const packets = async (set: string, address: string) => Number(new RegExp(`^add ${set} ${address.replace(/\./g, '\\.')} packets (\\d+)`, 'm').exec(await save(set))?.[1] ?? NaN);
  const failsafe = () => lab.exec(lab.server.ns, path.join(lab.root, 'usr/local/sbin/tm3-failsafe'), ['check'], { reject: false });

  before(async function () {
    requireLab(this, ['knockd']);
    lab = await Lab.create(3);
    [phone, quiet, other] = lab.clients;
    await lab.startResponder();
    lab.writeConfig();
    await ok(['restart']);
    await ok(['add-ip', 'desk', phone.v4, '--services', 'sip']);
    await ok(['add-ip', 'spare', quiet.v4, '--services', 'sip']);
  });
  after(async () => { await lab?.destroy(); });

  it('an upgrade: a set an older tm3 made without counters is converted by tm3 restart, same members, no packet of a live flow lost', async () => {
    // what an older tm3 left in the kernel: the same set, made without counters
    const old = (await save('tm3-sip-4')).replace(/ counters/, '').replace(/ packets \d+ bytes \d+/g, '').replace(/tm3-sip-4/g, 'tm3-sip-4.old');
    await lab.exec(lab.server.ns, 'ipset', ['restore'], { input: old });
    await lab.exec(lab.server.ns, 'ipset', ['swap', 'tm3-sip-4.old', 'tm3-sip-4']);
    await lab.exec(lab.server.ns, 'ipset', ['destroy', 'tm3-sip-4.old']);
    expect(await save('tm3-sip-4')).not.to.include('counters');
    const st = await lab.tm3(['status', '--json']);
    expect(JSON.parse(st.stdout).problems).to.include('set tm3-sip-4 has no hit counters (an older tm3 made it; tm3 restart converts it)');
    const stale = await ok(['list', '--stale', '1d']);
    expect(stale.stderr).to.match(/no hit counters yet for desk, spare \(their sets predate counters: tm3 restart converts them\)/);
    const flow = await lab.flow(phone, 4, 'udp', 5060, 50);
    await new Promise((r) => setTimeout(r, 500));
    await ok(['restart']);
    await new Promise((r) => setTimeout(r, 500));
    const f = await flow.stop();
    expect(f.sent).to.be.greaterThan(10);
    expect(f.echoed, 'echoes of the flow across the conversion').to.equal(f.sent);
    const now = await save('tm3-sip-4');
    expect(now).to.match(/^create tm3-sip-4 hash:net .* counters/m);
    expect(now).to.match(new RegExp(`^add tm3-sip-4 ${phone.v4.replace(/\./g, '\\.')} packets \\d+ bytes \\d+$`, 'm'));
    expect(now).to.include(quiet.v4);
    expect(JSON.parse((await lab.tm3(['status', '--json'])).stdout).kernelMatchesPlan).to.equal(true);
  });

  it('a swap keeps the counts of the members that stay; the failsafe does not take a count for a difference', async () => {
    for (let i = 0; i < 3; i++) await reachable(lab, phone, 4, ['udp/5060']);
    const before = await packets('tm3-sip-4', phone.v4);
    expect(before, 'packets counted').to.be.greaterThan(0);
    await ok(['add-ip', 'third', other.v4, '--services', 'sip']); // swaps tm3-sip-4
    expect(await packets('tm3-sip-4', phone.v4), 'after the swap').to.be.at.least(before);
    expect(await packets('tm3-sip-4', other.v4)).to.equal(0);
    const check = await failsafe();
    expect(check.stdout + check.stderr, 'tm3-failsafe check').not.to.match(/differ|not the set tm3 made/);
    expect(check.exitCode).to.equal(0);
    await ok(['del-acct', 'third']);
  });

  it('the counts restart and refresh record (from the swap, no second ipset save) are the kernel\'s, member for member', async () => {
    const usageFile = path.join(lab.root, 'var/lib/tm3/usage.json');
    const kernelCounts = async () => {
      const out: Record<string, number> = {};
      for (const line of (await lab.exec(lab.server.ns, 'ipset', ['save'])).stdout.split('\n')) {
        const m = /^add (tm3-[a-z0-9-]+) (\S+) packets (\d+) bytes \d+$/.exec(line);
        if (m) out[`${m[1]} ${m[2].includes('/') ? m[2] : `${m[2]}/${m[2].includes(':') ? 128 : 32}`}`] = Number(m[3]);
      }
      return out;
    };
    const recorded = () => Object.fromEntries(Object.entries(JSON.parse(fs.readFileSync(usageFile, 'utf8')).members as Record<string, { packets: number }>).map(([k, v]) => [k, v.packets]));
    await reachable(lab, phone, 4, ['udp/5060']);
    // a member comes while the phone's count is carried over: restart swaps tm3-sip-4 and tm3-all-4
    fs.writeFileSync(path.join(lab.root, 'root', 'fourth.iptables'), `[entry]\naddress=${other.v4}/32\nservices=sip,ssh\nsource=admin\nadded=2026-01-01T00:00:00.000Z\n`, { mode: 0o600 });
    await ok(['restart']);
    const k1 = await kernelCounts();
    expect(k1[`tm3-sip-4 ${phone.v4}/32`], 'the phone counted').to.be.greaterThan(0);
    expect(k1).to.have.property(`tm3-ssh-4 ${other.v4}/32`, 0);
    expect(recorded(), 'after restart').to.deep.equal(k1);
    await reachable(lab, phone, 4, ['udp/5060']);
    await ok(['refresh']); // nothing to swap: the counts as read
    const k2 = await kernelCounts();
    expect(k2[`tm3-sip-4 ${phone.v4}/32`]).to.be.greaterThan(k1[`tm3-sip-4 ${phone.v4}/32`]);
    expect(recorded(), 'after refresh').to.deep.equal(k2);
    fs.rmSync(path.join(lab.root, 'root', 'fourth.iptables'));
    await ok(['restart']);
    expect(recorded(), 'after a restart that took a member out').to.deep.equal(await kernelCounts());
  });

  it('list --stale 30d: the entry no packet used is listed, the one a phone uses is not; tm3 refresh keeps the look', async () => {
    // both entries added 60 days ago; counting began 40 days ago with the counts the kernel holds now
    for (const name of ['desk', 'spare']) {
      const file = path.join(lab.root, 'root', `${name}.iptables`);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^added=.*$/m, `added=${new Date(Date.now() - 60 * DAY).toISOString()}`));
    }
    const members: Record<string, { packets: number; usedAt: null }> = {};
    for (const a of [phone.v4, quiet.v4]) members[`tm3-sip-4 ${a}/32`] = { packets: await packets('tm3-sip-4', a), usedAt: null };
    const usageFile = path.join(lab.root, 'var/lib/tm3/usage.json');
    fs.writeFileSync(usageFile, JSON.stringify({ since: new Date(Date.now() - 40 * DAY).toISOString(), members }));
    const none = JSON.parse((await ok(['list', '--stale', '30d', '--json'])).stdout);
    expect(none.stale.map((e: { name: string }) => e.name), 'nobody sent a packet since').to.deep.equal(['desk', 'spare']);
    await reachable(lab, phone, 4, ['udp/5060']);
    const r = JSON.parse((await ok(['list', '--stale', '30d', '--json'])).stdout);
    expect(r.stale.map((e: { name: string }) => e.name)).to.deep.equal(['spare']);
    expect(r.stale[0].lastUsed).to.equal(null);
    expect((await ok(['list', '--stale', '30d'])).stdout).to.match(/^spare +192\.0\.2\.20\/32 +sip +admin +never since /m);
    expect((await ok(['list', quiet.v4, '--stale', '30d', '--json'])).stdout).to.include('spare');
    expect(JSON.parse((await ok(['list', phone.v4, '--stale', '30d', '--json'])).stdout).stale).to.deep.equal([]);
    await ok(['refresh']);
    const kept = JSON.parse(fs.readFileSync(usageFile, 'utf8'));
    expect(Date.now() - Date.parse(kept.members[`tm3-sip-4 ${phone.v4}/32`].usedAt), 'the phone\'s use, kept by refresh').to.be.below(60_000);
    expect(kept.members[`tm3-sip-4 ${quiet.v4}/32`].usedAt).to.equal(null);
    const bad = await lab.tm3(['list', '--stale', '30x']);
    expect(bad.exitCode).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.match(/--stale '30x' is not an age \(fix: write days, weeks or hours/);
  });
});
