#!/usr/bin/env node
// npm run demo: a lab server and three clients in network namespaces, a narrated tour of tm3
// with real packets, then everything removed (unless --keep). The host firewall is never touched.
import { Lab, DNS_DOMAIN, type Host } from '../lab/lab.js';

const keep = process.argv.includes('--keep');
const tty = Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env);
const mark = (ok: boolean) => (tty ? (ok ? '\x1b[32m✔\x1b[0m' : '\x1b[31m✘\x1b[0m') : ok ? 'ok  ' : 'FAIL');
let failures = 0;

function say(text: string) { process.stdout.write(`\n${text}\n`); }

async function expectReach(lab: Lab, who: string, c: Host, proto: 'tcp' | 'udp', port: number, family: 4 | 6, want: boolean) {
  const got = await lab.reaches(c, proto, port, family);
  if (got !== want) failures++;
  process.stdout.write(`  ${mark(got === want)} ${who} (${family === 4 ? c.v4 : c.v6}) ${got ? 'reaches' : 'is blocked from'} ${proto}/${port}${got === want ? '' : `  <- expected ${want ? 'reach' : 'blocked'}`}\n`);
}

async function tm3(lab: Lab, args: string[]) {
  process.stdout.write(`  $ tm3 ${args.join(' ')}\n`);
  const r = await lab.tm3(args);
  for (const line of `${r.stdout}\n${r.stderr}`.trim().split('\n').filter(Boolean)) process.stdout.write(`    ${line}\n`);
  if (r.exitCode !== 0) { failures++; process.stdout.write(`  ${mark(false)} exit ${r.exitCode}\n`); }
}

if (process.getuid?.() !== 0) {
  process.stderr.write('tm3 demo: needs root to build network namespaces (run it as root; the host firewall is not touched)\n');
  process.exit(3);
}

const host = `roamer.${DNS_DOMAIN}`;
const lab = await Lab.create(3);
const [friend, stranger, roamer] = lab.clients;
const cleanup = async () => { if (!keep) await lab.destroy(); };
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
try {
  say(`Lab: server ${lab.server.v4} / ${lab.server.v6} in namespace ${lab.server.ns}, staged root ${lab.root}`);
  await lab.startResponder();
  await lab.startDns({ [host]: [roamer.v4, roamer.v6] });
  lab.writeConfig();

  say('1. Before tm3, the PBX is visible to everyone:');
  await expectReach(lab, 'stranger', stranger, 'tcp', 22, 4, true);

  say('2. tm3 restart closes it, for IPv4 and IPv6:');
  await tm3(lab, ['restart']);
  await expectReach(lab, 'stranger', stranger, 'tcp', 22, 4, false);
  await expectReach(lab, 'stranger', stranger, 'udp', 5060, 6, false);

  say('3. add-ip whitelists one client for SIP only:');
  await tm3(lab, ['add-ip', 'home', friend.v4, '--services', 'sip']);
  await expectReach(lab, 'friend', friend, 'udp', 5060, 4, true);
  await expectReach(lab, 'friend', friend, 'tcp', 22, 4, false);
  await expectReach(lab, 'stranger', stranger, 'udp', 5060, 4, false);

  say(`4. add-fqdn whitelists a dynamic-DNS name; only its addresses reach the kernel:`);
  await tm3(lab, ['add-fqdn', 'roamer', host, '--services', 'ssh']);
  await expectReach(lab, 'roamer', roamer, 'tcp', 22, 6, true);

  say('5. The name moves to another address; tm3 refresh follows it:');
  await lab.setDns({ [host]: [stranger.v4] });
  await tm3(lab, ['refresh']);
  await expectReach(lab, 'new address', stranger, 'tcp', 22, 4, true);
  await expectReach(lab, 'old address', roamer, 'tcp', 22, 4, false);

  say('6. DNS goes down: refresh keeps the last good address, even across a restart:');
  await lab.stopDns();
  await tm3(lab, ['refresh']);
  await tm3(lab, ['restart']);
  await expectReach(lab, 'roamer (last good)', stranger, 'tcp', 22, 4, true);
  await expectReach(lab, 'friend', friend, 'udp', 5060, 4, true);

  say('7. del-acct removes access at once:');
  await tm3(lab, ['del-acct', 'home']);
  await expectReach(lab, 'friend', friend, 'udp', 5060, 4, false);

  say('8. tm3 status:');
  await tm3(lab, ['status']);
} catch (err) {
  failures++;
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
} finally {
  await cleanup();
}
say(failures ? `${failures} check(s) failed.` : `Every check passed.${keep ? ` The lab is kept: ip netns exec ${lab.server.ns} ...` : ' The lab has been removed.'}`);
process.exitCode = failures ? 1 : 0;
