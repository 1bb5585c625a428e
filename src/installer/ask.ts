import { createInterface } from 'node:readline/promises';
import { parseHost } from '../model/address.js';
import type { Detected } from './detect.js';

/** Show each detected value and let the admin correct it (Enter keeps it). */
export async function askDetected(d: Detected): Promise<Detected> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const ask = async (label: string, value: string) => (await rl.question(`${label} [${value || 'none'}]: `)).trim() || value;
    const admin = await ask('Admin address(es) to whitelist, comma separated', d.adminIps.join(','));
    const iface = await ask('Interface facing the internet', d.interface);
    const pub = await ask('Public address (for knock.FAQ)', d.publicIp ?? '');
    return {
      ...d,
      adminIps: admin.split(',').map((a) => a.trim()).filter(Boolean).map((a) => parseHost(a, 'admin address').address),
      interface: iface,
      publicIp: pub ? parseHost(pub, 'public address').address : undefined,
    };
  } finally {
    rl.close();
  }
}

/** A yes/no question; Enter takes the default. */
export async function askYesNo(question: string, yes = true): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const a = (await rl.question(`${question} [${yes ? 'Y/n' : 'y/N'}] `)).trim().toLowerCase();
    return a === '' ? yes : a.startsWith('y');
  } finally {
    rl.close();
  }
}
