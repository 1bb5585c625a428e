// Bans under a distributed attack: 1,000 distinct addresses (761 IPv4 from the three
// documentation /24s, the rest IPv6 from 2001:db8::/32) each fail `maxretry` times, written into
// the Asterisk log as Asterisk writes them, against the real fail2ban-server with tm3's jail.
// The attack is spread over ATTACK_MS (batches of 50 addresses, each address's failures in one
// burst); the bench records when each address's last failure line was written, polls tm3's ban
// sets every 20 ms, and reports the time until all are banned and the median latency from an
// address's last failure line to the first poll that saw its ban (an upper bound by one poll).
import fs from 'node:fs';
import path from 'node:path';
import { Lab } from '../src/lab/lab.js';
import { median, type Section } from './report.js';

const ATTACKERS = Number(process.env.TM3_BENCH_ATTACKERS ?? 1000);
const ATTACK_MS = 2000;
const BATCH = 50;
const POLL_MS = 20;
const WAIT_MS = 60_000; // give up this long after the last failure line

/** Distinct documentation addresses, the server's own (192.0.2.1) left out. */
function attackers(n: number): string[] {
  const out: string[] = [];
  for (const net of ['198.51.100', '203.0.113', '192.0.2']) {
    for (let i = 1; i <= 254; i++) if (`${net}.${i}` !== '192.0.2.1') out.push(`${net}.${i}`);
  }
  for (let i = 1; out.length < n; i++) out.push(`2001:db8:bad::${i.toString(16)}`);
  return out.slice(0, n);
}

/** Asterisk's log time format, local time: [2026-11-25 18:50:01] */
const stamp = (d = new Date()) => {
  const p = (x: number) => String(x).padStart(2, '0');
  return `[${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}]`;
};

/** One failed attempt as Asterisk logs it: chan_sip, PJSIP or a security event, by turns. */
function failure(ip: string, k: number): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const fam = ip.includes(':') ? 'IPV6' : 'IPV4';
  switch (k % 3) {
    case 0: return `${stamp()} NOTICE[4211] chan_sip.c: Registration from '"10${k}" <sip:10${k}@192.0.2.1>' failed for '${host}:5060' - Wrong password`;
    case 1: return `${stamp()} NOTICE[4212] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:20${k}@192.0.2.1>' failed for '${host}:5060' (callid: c${k}a1b2) - No matching endpoint found`;
    default: return `${stamp()} SECURITY[4213] res_security_log.c: SecurityEvent="InvalidAccountID",EventTV="${new Date().toISOString()}",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="30${k}",SessionID="0x${k}",LocalAddress="${fam}/UDP/192.0.2.1/5060",RemoteAddress="${fam}/UDP/${ip}/5060"`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One attack in a fresh lab. `shellAction`: a zz-local.local puts every jail back on the shell
 * action tm3-ipset.conf (one sh and one ipset per ban), the baseline for the batching action.
 */
async function attack(shellAction: boolean) {
  const lab = await Lab.create(0);
  try {
    lab.writeConfig('', { fail2ban: true });
    if (shellAction) {
      fs.mkdirSync(path.join(lab.root, 'etc/fail2ban/jail.d'), { recursive: true });
      fs.writeFileSync(path.join(lab.root, 'etc/fail2ban/jail.d/zz-local.local'), '[DEFAULT]\nbanaction = tm3-ipset\nbanaction_allports = tm3-ipset\n');
    }
    const r = await lab.tm3(['restart']);
    if (r.exitCode !== 0 || !/fail2ban started/.test(r.stdout)) throw new Error(`tm3 restart did not start fail2ban: ${r.stdout}\n${r.stderr}`);
    const jail = fs.readFileSync(path.join(lab.root, 'etc/fail2ban/jail.d/tm3.local'), 'utf8');
    const asterisk = jail.slice(jail.indexOf('[asterisk]'));
    const maxretry = Number(/^maxretry = (\d+)$/m.exec(asterisk)?.[1]);
    const backend = /^backend = (\S+)$/m.exec(asterisk)?.[1] ?? '?';
    if (!maxretry) throw new Error('no maxretry in the rendered [asterisk] jail');
    const sock = path.join(lab.root, 'run/fail2ban/fail2ban.sock');
    const actions = String((await lab.exec(lab.server.ns, 'fail2ban-client', ['-s', sock, 'get', 'asterisk', 'actions'], { reject: false })).stdout).split('\n').pop()?.trim() ?? '?';
    const log = path.join(lab.root, 'var/log/asterisk/full');
    // fail2ban is up once its socket answers; its jails start reading a moment later
    await sleep(1500);

    const ips = attackers(ATTACKERS);
    const lastFailure = new Map<string, number>();
    const bannedAt = new Map<string, number>();
    let polls = 0;
    let attackDone = false;
    let lastWrite = 0;
    const poll = async () => {
      while (bannedAt.size < ips.length && !(attackDone && Date.now() - lastWrite > WAIT_MS)) {
        const t0 = Date.now();
        const { stdout } = await lab.exec(lab.server.ns, 'ipset', ['save'], { reject: false });
        const seen = Date.now();
        polls++;
        for (const m of String(stdout).matchAll(/^add tm3-ban-[46] (\S+)/gm)) if (!bannedAt.has(m[1])) bannedAt.set(m[1], seen);
        await sleep(Math.max(0, POLL_MS - (Date.now() - t0)));
      }
    };
    const write = async () => {
      const batches = Math.ceil(ips.length / BATCH);
      const t0 = Date.now();
      for (let b = 0; b < batches; b++) {
        const batch = ips.slice(b * BATCH, (b + 1) * BATCH);
        const lines: string[] = [];
        for (const ip of batch) for (let k = 0; k < maxretry; k++) lines.push(failure(ip, k));
        fs.appendFileSync(log, `${lines.join('\n')}\n`);
        lastWrite = Date.now();
        for (const ip of batch) lastFailure.set(ip, lastWrite);
        await sleep(Math.max(0, t0 + ((b + 1) * ATTACK_MS) / batches - Date.now()));
      }
      attackDone = true;
    };
    const start = Date.now();
    await Promise.all([poll(), write()]);

    const latencies = ips.filter((ip) => bannedAt.has(ip)).map((ip) => (bannedAt.get(ip) ?? 0) - (lastFailure.get(ip) ?? 0));
    const banned = latencies.length;
    const sorted = [...latencies].sort((a, b) => a - b);
    const all = banned === ips.length;
    return {
      action: actions, backend, maxretry, attackers: ips.length, v4: ips.filter((ip) => !ip.includes(':')).length, v6: ips.filter((ip) => ip.includes(':')).length,
      polls, banned, unexpectedBans: [...bannedAt.keys()].filter((ip) => !lastFailure.has(ip)).length,
      allBannedMsFromFirstLine: all ? Math.max(...bannedAt.values()) - start : null,
      allBannedMsFromLastLine: all ? Math.max(...bannedAt.values()) - lastWrite : null,
      minLatencyMs: banned ? sorted[0] : null, medianLatencyMs: banned ? Math.round(median(latencies)) : null,
      p90LatencyMs: banned ? sorted[Math.floor(banned * 0.9)] : null, maxLatencyMs: banned ? sorted[banned - 1] : null,
    };
  } finally {
    // the server's own log, for a look at where the time went
    if (process.env.TM3_BENCH_KEEP) fs.copyFileSync(path.join(lab.root, 'var/log/fail2ban.log'), `${process.env.TM3_BENCH_KEEP}${shellAction ? '.shell' : ''}`);
    await lab.destroy();
  }
}

export async function benchBans(): Promise<Section> {
  process.stderr.write(`bans: ${ATTACKERS} attackers against the real fail2ban-server, tm3's action...\n`);
  const tm3 = await attack(false);
  process.stderr.write('bans: the same with the shell action (one process per ban)...\n');
  const shell = await attack(true);
  const met = tm3.allBannedMsFromFirstLine !== null && tm3.allBannedMsFromFirstLine <= 10_000 && (tm3.medianLatencyMs ?? Infinity) < 1000;
  const row = (label: string, x: typeof tm3) => `${label.padEnd(34)} ${`${x.banned}/${x.attackers}`.padStart(9)}   ${(x.allBannedMsFromFirstLine === null ? 'never' : `${x.allBannedMsFromFirstLine} ms`).padStart(10)}   ${(x.allBannedMsFromLastLine === null ? '-' : `${x.allBannedMsFromLastLine} ms`).padStart(9)}   ${`${x.medianLatencyMs} ms`.padStart(8)}   ${`${x.p90LatencyMs} ms`.padStart(8)}   ${`${x.maxLatencyMs} ms`.padStart(8)}${x.unexpectedBans ? `   ${x.unexpectedBans} never failed (!)` : ''}`;
  return {
    name: 'bans',
    data: { attackSpreadMs: ATTACK_MS, batch: BATCH, pollMs: POLL_MS, tm3, shellAction: shell },
    lines: [
      `bans under a distributed attack: ${tm3.attackers} addresses (${tm3.v4} IPv4, ${tm3.v6} IPv6), ${tm3.maxretry} failures each in the Asterisk log over ${ATTACK_MS / 1000} s, backend ${tm3.backend}, sets polled every ${POLL_MS} ms`,
      '                                      banned   all, from     from   last failure -> ban',
      '                                               first line     last     median        p90        max',
      row(`tm3 (${tm3.action}, batched)`, tm3),
      row(`shell action (${shell.action})`, shell),
      `  goal: all within 10 s, median under 1 s: ${met ? 'met' : 'NOT met'}`,
    ],
  };
}
