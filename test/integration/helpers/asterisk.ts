import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { execa, type ResultPromise } from 'execa';
import type { Lab } from '../../../src/lab/lab.js';
import { REPO } from './guest.js';

// A real Asterisk (Debian unstable's, chrooted) on the lab's server, in the server's network
// namespace. The rootfs is built once and cached (scripts/pbx/build-asterisk-rootfs.sh); each run
// mounts an overlay on it in a mount namespace of its own, so nothing of the run reaches the cache
// or the host's mount table. Config and log are host directories under the lab root, where tm3
// looks on a real box: /etc/asterisk (tm3 reads logger.conf) and /var/log/asterisk/full, the file
// tm3's asterisk jail reads ([fail2ban] asterisk_log).

export const ENDPOINTS = { alice: 'alice-Secret-4711', bob: 'bob-Secret-0815' };
export const ECHO = '600';

/** The cached rootfs, built on first use; a failed build fails with apt's own words, never skips. */
export async function ensureAsteriskRootfs(): Promise<string> {
  const t = Date.now();
  const r = await execa('bash', [path.join(REPO, 'scripts/pbx/build-asterisk-rootfs.sh')], { reject: false, stdin: 'ignore', timeout: 840_000 });
  expect(r.exitCode, `scripts/pbx/build-asterisk-rootfs.sh failed:\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-2500)}`).to.equal(0);
  console.log(`      Asterisk rootfs ready in ${((Date.now() - t) / 1000).toFixed(1)} s (${/rootfs cached/.test(r.stdout) ? 'cached' : 'built'})`);
  return r.stdout.trim().split('\n').pop()!;
}

const CONF: Record<string, string> = {
  'asterisk.conf': '[directories]\nastetcdir => /etc/asterisk\nastmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules\nastvarlibdir => /var/lib/asterisk\nastdbdir => /var/lib/asterisk\nastkeydir => /var/lib/asterisk\nastdatadir => /usr/share/asterisk\nastagidir => /usr/share/asterisk/agi-bin\nastspooldir => /var/spool/asterisk\nastrundir => /var/run/asterisk\nastlogdir => /var/log/asterisk\n[options]\nnocolor = yes\n',
  // only what the tests use: PJSIP, the echo test, the logger
  'modules.conf': '[modules]\nautoload = no\n' + [
    'res_sorcery_config', 'res_sorcery_memory', 'res_sorcery_astdb', 'res_pjproject', 'res_geolocation', 'res_statsd', 'res_pjsip', 'res_pjsip_session', 'res_pjsip_pubsub', 'res_pjsip_authenticator_digest',
    'res_pjsip_endpoint_identifier_user', 'res_pjsip_endpoint_identifier_ip', 'res_pjsip_registrar', 'res_pjsip_outbound_registration', 'res_pjsip_sdp_rtp', 'res_pjsip_nat', 'res_pjsip_rfc3326',
    'res_pjsip_caller_id', 'res_pjsip_dtmf_info', 'res_pjsip_logger', 'res_rtp_asterisk', 'res_security_log', 'res_timing_timerfd',
    'chan_pjsip', 'app_echo', 'app_playback', 'pbx_config', 'codec_ulaw', 'format_pcm', 'format_wav', 'bridge_simple', 'func_callerid',
  ].map((m) => `load = ${m}.so`).join('\n') + '\n',
  // Asterisk's default full-log format ([date] LEVEL[pid] file: text), which the stock filter reads
  'logger.conf': '[general]\ndateformat = %F %T\n[logfiles]\nfull => notice,warning,error,security\n',
  'rtp.conf': '[general]\nrtpstart = 10000\nrtpend = 10100\n',
  'pjsip.conf': [
    '[transport-udp]\ntype = transport\nprotocol = udp\nbind = 0.0.0.0:5060\n',
    '[transport-udp6]\ntype = transport\nprotocol = udp\nbind = [::]:5060\n',
    ...Object.entries(ENDPOINTS).map(([name, pw]) => `[${name}]\ntype = endpoint\ncontext = tm3-test\ndisallow = all\nallow = ulaw\nauth = ${name}\naors = ${name}\ndirect_media = no\nrtp_symmetric = yes\nforce_rport = yes\nrewrite_contact = yes\n\n[${name}]\ntype = auth\nauth_type = userpass\nusername = ${name}\npassword = ${pw}\n\n[${name}]\ntype = aor\nmax_contacts = 2\nremove_existing = yes\n`),
  ].join('\n'),
  'extensions.conf': `[tm3-test]\nexten => ${ECHO},1,Answer()\n same => n,Echo()\n same => n,Hangup()\n`,
};

export class Asterisk {
  private proc?: ResultPromise;
  readonly dir: string;
  readonly log: string;
  constructor(private lab: Lab, private rootfs: string) {
    this.dir = path.join(lab.root, 'asterisk-run');
    this.log = path.join(lab.root, 'var/log/asterisk/full');
  }

  /** Its config in the lab root's /etc/asterisk, where tm3 reads logger.conf as on a real box. */
  get etc() { return path.join(this.lab.root, 'etc/asterisk'); }
  writeConfig(): void {
    fs.mkdirSync(this.etc, { recursive: true });
    fs.mkdirSync(path.dirname(this.log), { recursive: true });
    for (const [f, text] of Object.entries(CONF)) fs.writeFileSync(path.join(this.etc, f), text);
  }

  async start(): Promise<void> {
    const etc = this.etc;
    if (!fs.existsSync(path.join(etc, 'pjsip.conf'))) this.writeConfig();
    for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(this.dir, d), { recursive: true });
    const m = path.join(this.dir, 'merged');
    const script = [
      `mount -t overlay overlay -o lowerdir=${this.rootfs},upperdir=${this.dir}/upper,workdir=${this.dir}/work ${m}`,
      `mount --bind ${etc} ${m}/etc/asterisk`,
      `mount --bind ${path.dirname(this.log)} ${m}/var/log/asterisk`,
      `mount -t proc proc ${m}/proc`,
      `mount --bind /dev ${m}/dev`,
      `mkdir -p ${m}/run/asterisk`,
      // as root, without -U: Asterisk would drop the capabilities root needs in its own dirs
      // killed with its test run, even a kill -9 of mocha (parent death)
      `exec setpriv --pdeathsig KILL chroot ${m} /usr/sbin/asterisk -f -n`,
    ].join(' && ');
    this.proc = execa('ip', ['netns', 'exec', this.lab.server.ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: true });
    for (let i = 0; i < 150; i++) {
      const ss = await this.lab.exec(this.lab.server.ns, 'ss', ['-Hlun', 'sport = :5060'], { reject: false });
      if (String(ss.stdout).includes(':5060')) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await this.stop();
    throw new Error(`Asterisk did not come up: ${String(r?.stderr ?? '').slice(-1500)}`);
  }

  /** `asterisk -rx CMD` inside its own mount namespace (the control socket lives in the overlay). */
  async cli(cmd: string): Promise<string> {
    const pid = this.proc?.pid;
    const r = await execa('nsenter', ['-t', String(pid), '-m', '-n', 'chroot', path.join(this.dir, 'merged'), '/usr/sbin/asterisk', '-rx', cmd], { reject: false });
    return r.stdout;
  }

  /** The last lines of Asterisk's log, for a failure message. */
  tail(n: number): string {
    return fs.existsSync(this.log) ? fs.readFileSync(this.log, 'utf8').trim().split('\n').slice(-n).join('\n') : '';
  }

  /** Failed attempts from ADDRESS: Asterisk's NOTICE lines (each has a SecurityEvent twin here). */
  failures(address: string): string[] {
    const text = fs.existsSync(this.log) ? fs.readFileSync(this.log, 'utf8') : '';
    return text.split('\n').filter((l) => / NOTICE\[/.test(l) && l.includes(`failed for '${address}:`));
  }

  async stop() {
    if (!this.proc) return undefined;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), 5000);
    const r = await this.proc;
    clearTimeout(t);
    this.proc = undefined;
    return r;
  }
}

const SIPP = path.join(REPO, 'test/fixtures/sipp');
const HELPERS = path.join(REPO, 'test/integration/helpers');

/**
 * A softphone's call to the echo test: sipp (SIP, digest auth) from `client`, and rtp-echo.py
 * sending 50 RTP frames a second to the media port Asterisk offered and counting the echoes.
 * `recvTimeoutMs`: how long sipp waits for an answer (a cut-off phone's BYE never gets one).
 */
export function call(lab: Lab, client: { ns: string; v4: string }, who: keyof typeof ENDPOINTS, seconds: number, sipPort = 5070, rtpPort = 40000, recvTimeoutMs = 10_000) {
  const portfile = path.join(lab.root, `media-port-${client.v4}-${sipPort}`);
  fs.rmSync(portfile, { force: true });
  // the media stops half a second before the BYE: frames still in flight then are not losses
  const rtp = execa('ip', ['netns', 'exec', client.ns, 'python3', path.join(HELPERS, 'rtp-echo.py'), JSON.stringify({ local: client.v4, port: rtpPort, server: lab.server.v4, portfile, seconds: seconds - 0.5 })], { reject: false, stdin: 'ignore' });
  const sipp = execa('ip', ['netns', 'exec', client.ns, 'sipp', `${lab.server.v4}:5060`, '-sf', path.join(SIPP, 'echo-call.xml'), '-s', who, '-au', who, '-ap', ENDPOINTS[who],
    '-i', client.v4, '-p', String(sipPort), '-m', '1', '-d', String(seconds * 1000), '-set', 'rtpport', String(rtpPort), '-set', 'portfile', portfile,
    '-nostdin', '-recv_timeout', String(recvTimeoutMs), '-timeout', `${seconds + 30}s`, '-trace_err', '-error_file', path.join(lab.root, `sipp-err-${client.v4}-${sipPort}.log`)], { reject: false, stdin: 'ignore', cwd: lab.root });
  return {
    done: async () => {
      const [s, r] = await Promise.all([sipp, rtp]);
      const media = JSON.parse(String(r.stdout).split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}') as { sent: number; received: number; recvTimes: number[]; maxGap: number; error?: string };
      const errFile = path.join(lab.root, `sipp-err-${client.v4}-${sipPort}.log`);
      return { sippExit: s.exitCode, sippErrors: fs.existsSync(errFile) ? fs.readFileSync(errFile, 'utf8').slice(-1500) : '', media };
    },
  };
}

/** A phone keeping its registration fresh (register-loop.xml); times of each 200 OK in the file returned. */
export function registerLoop(lab: Lab, client: { ns: string; v4: string }, who: keyof typeof ENDPOINTS, sipPort = 5080) {
  const log = path.join(lab.root, `registered-${client.v4}-${sipPort}`);
  fs.writeFileSync(log, '');
  const proc = execa('ip', ['netns', 'exec', client.ns, 'sipp', `${lab.server.v4}:5060`, '-sf', path.join(SIPP, 'register-loop.xml'), '-s', who, '-au', who, '-ap', ENDPOINTS[who],
    '-i', client.v4, '-p', String(sipPort), '-m', '1', '-set', 'log', log, '-nostdin', '-recv_timeout', '3000', '-timeout', '120s', '-trace_err', '-error_file', `${log}.err`], { reject: false, stdin: 'ignore', cwd: lab.root });
  return {
    times: () => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map(Number),
    errors: () => (fs.existsSync(`${log}.err`) ? fs.readFileSync(`${log}.err`, 'utf8').slice(-1500) : ''),
    stop: async () => { proc.kill('SIGTERM'); return proc; },
    proc,
  };
}
