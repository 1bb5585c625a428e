import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from '../apply/run.js';

export const PACKAGES = ['iptables', 'ipset', 'iptables-persistent', 'ipset-persistent', 'netfilter-persistent', 'fail2ban', 'knockd', 'fwknop-server'];

/** What to install: fwknopd only while personal SPA is on (`[spa] enabled = false` in tm3.conf skips it). */
export const packagesFor = (spaEnabled: boolean) => PACKAGES.filter((p) => spaEnabled || p !== 'fwknop-server');
const PRESEED = fileURLToPath(new URL('../../installer/debconf-preseed.txt', import.meta.url));

/** apt-get, non-interactive, with iptables-persistent's questions answered in advance. */
export async function installPackages(say: (s: string) => void, packages = PACKAGES): Promise<void> {
  say(`installing ${packages.join(' ')} (apt-get)`);
  await run('debconf-set-selections', [], { input: fs.readFileSync(PRESEED, 'utf8') });
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run('env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'apt-get', 'update', '-q'], { timeoutMs: 600_000 });
  await run('env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...packages], { timeoutMs: 1_200_000 });
}
