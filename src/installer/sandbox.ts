// tm3-install --sandbox: a server and three clients in network namespaces, the real installer
// run into a staged root there, and a narrated tour with real packets. The host is not touched.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Lab, DNS_DOMAIN, type Host } from '../lab/lab.js';
import { PrereqError } from '../model/errors.js';
import type { Output } from '../cli/output.js';

const INSTALLER = fileURLToPath(new URL('./main.js', import.meta.url));

export async function sandbox(opts: { keep: boolean }, out: Output): Promise<number> {
  if (process.getuid?.() !== 0) throw new PrereqError('the sandbox needs root to build network namespaces', 'run it as root; the host firewall is not touched');
  const tty = Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env);
  const mark = (ok: boolean) => (tty ? (ok ? '\x1b[32m✔\x1b[0m' : '\x1b[31m✘\x1b[0m') : ok ? 'ok  ' : 'FAIL');
  let failures = 0;
  const say = (t: string) => out.line(`\n${t}`);
  const host = `roamer.${DNS_DOMAIN}`;

  const lab = await Lab.create(3);
  const [admin, stranger, traveller] = lab.clients;
  const expectReach = async (who: string, c: Host, proto: 'tcp' | 'udp', port: number, family: 4 | 6, want: boolean) => {
    const got = await lab.reaches(c, proto, port, family);
    if (got !== want) failures++;
    out.line(`  ${mark(got === want)} ${who} (${family === 4 ? c.v4 : c.v6}) ${got ? 'reaches' : 'is blocked from'} ${proto}/${port}${got === want ? '' : `  <- expected ${want ? 'reach' : 'blocked'}`}`);
  };
  const tm3 = async (args: string[]) => {
    out.line(`  $ tm3 ${args.join(' ')}`);
    const r = await lab.tm3(args);
    for (const line of `${r.stdout}\n${r.stderr}`.split('\n').filter(Boolean)) out.line(`    ${line}`);
    if (r.exitCode !== 0) { failures++; out.line(`  ${mark(false)} exit ${r.exitCode}`); }
    return r;
  };
  try {
    say(`Lab: server ${lab.server.v4} / ${lab.server.v6} (namespace ${lab.server.ns}), staged root ${lab.root}`);
    await lab.startResponder();
    await lab.startDns({ [host]: [traveller.v4, traveller.v6] });
    lab.writeConfig();

    say('1. Before tm3, the PBX is visible to everyone:');
    await expectReach('stranger', stranger, 'tcp', 22, 4, true);

    say(`2. tm3-install, as an admin at ${admin.v4} would run it over SSH:`);
    const args = ['--root', lab.root, '--yes', '--no-packages', '--admin-ip', admin.v4, '--admin-ip', admin.v6, '--no-public-ip', '--interface', 'veth-s', '--apply'];
    out.line(`  $ tm3-install ${args.join(' ')}`);
    const inst = await execa('ip', ['netns', 'exec', lab.server.ns, process.execPath, INSTALLER, ...args], { reject: false, stdin: 'ignore', env: { TM3_NO_SYSLOG: '1' } });
    // the installer's own lines, not knock.FAQ (printed whole between its title and "installed")
    let faq = false;
    for (const line of String(inst.stdout).split('\n')) {
      if (/knock\.FAQ \(give it only/.test(line)) faq = true;
      else if (/^tm3 \S+ installed/.test(line)) faq = false;
      if (line && !faq && !line.startsWith(' ')) out.line(`    ${line}`);
    }
    if (inst.exitCode !== 0) { failures++; out.line(`  ${mark(false)} tm3-install exit ${inst.exitCode}: ${inst.stderr}`); }
    await expectReach('admin', admin, 'tcp', 22, 4, true);
    await expectReach('admin', admin, 'tcp', 22, 6, true);
    await expectReach('stranger', stranger, 'tcp', 22, 4, false);
    await expectReach('stranger', stranger, 'udp', 5060, 6, false);

    say('3. add-ip lets one more client in, for SIP only:');
    await tm3(['add-ip', 'office', stranger.v4, '--services', 'sip']);
    await expectReach('office', stranger, 'udp', 5060, 4, true);
    await expectReach('office', stranger, 'tcp', 22, 4, false);

    say('4. A traveller knocks (three SYNs from knock.FAQ) and gets in for an hour:');
    const st = JSON.parse((await lab.tm3(['knock', 'status', '--json'])).stdout) as { sequence: number[] };
    await expectReach('traveller', traveller, 'tcp', 22, 4, false);
    out.line(`  knocking on ${st.sequence.join(', ')}`);
    await lab.knock(traveller, st.sequence);
    await new Promise((r) => setTimeout(r, 1000));
    await expectReach('traveller', traveller, 'tcp', 22, 4, true);

    say('5. A dynamic-DNS name, then a reboot with DNS down and the link late: it comes up closed, whitelist intact:');
    await tm3(['add-fqdn', 'roamer', host, '--services', 'web']);
    await lab.wipeKernel();
    await lab.stopDns();
    await lab.link(false);
    await lab.boot();
    await lab.link(true);
    await expectReach('traveller (knock grants end with a reboot)', traveller, 'tcp', 22, 4, false);
    await expectReach('admin', admin, 'tcp', 22, 4, true);
    await expectReach('office', stranger, 'udp', 5060, 4, true);
    await expectReach('roamer (last good address)', traveller, 'tcp', 80, 6, true);

    say('6. tm3 status:');
    await tm3(['status']);
  } catch (err) {
    failures++;
    out.warn(`sandbox stopped: ${(err as Error).message}`);
  } finally {
    if (!opts.keep) await lab.destroy();
  }
  say(failures ? `${failures} check(s) failed.` : `Every check passed. ${opts.keep ? `The lab is kept: ip netns exec ${lab.server.ns} ${path.join(lab.root, 'usr/local/sbin/tm3')} status` : 'The lab has been removed.'}`);
  return failures ? 1 : 0;
}
