import { createInterface, type Interface } from 'node:readline';
import { parseHost } from '../model/address.js';
import { parseContact } from '../model/contact.js';
import { InputError } from '../model/errors.js';
import { checkInterface } from './detect.js';
import type { Detected } from './detect.js';

/** One question; a terminal that closes (Ctrl-D, a hang-up) is an answer nobody gave. */
function question(rl: Interface, q: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const closed = () => reject(new InputError('no answer: the terminal closed', 'run tm3-install again, or give the values as flags with --yes'));
    // readline takes Ctrl-C from a raw terminal itself; unheard, it would only pause the input and hang
    const interrupted = () => { rl.removeListener('close', closed); rl.close(); reject(new InputError('interrupted at a question', 'run tm3-install again when ready (tm3-install --repair if it says an earlier run stopped half way)')); };
    rl.once('close', closed);
    rl.once('SIGINT', interrupted);
    rl.question(q, (a) => { rl.removeListener('close', closed); rl.removeListener('SIGINT', interrupted); resolve(a.trim()); });
  });
}

/**
 * Ask until the answer parses: a typo gets its one-line reason and the same question again,
 * never the end of the run (iptables-apply does not abort on a typo either).
 */
export async function askValid<T>(rl: Interface, q: string, parse: (answer: string) => T | Promise<T>): Promise<T> {
  for (;;) {
    const answer = await question(rl, q);
    try {
      return await parse(answer);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      process.stdout.write(`  ${e.message.replace(/[\x00-\x1f\x7f]/g, '?')} (fix: ${e.fix}). Try again.\n`);
    }
  }
}

export interface Asked { detected: Detected; changed: Set<'interface' | 'publicIp' | 'adminContact'> }

/** Show each detected value and let the admin correct it (Enter keeps it); `changed` names what they typed anew. */
export async function askDetected(d: Detected): Promise<Asked> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const changed: Asked['changed'] = new Set();
  try {
    const shown = (v: string | undefined) => v || 'none';
    const adminIps = await askValid(rl, `Admin address(es) to whitelist, comma separated [${shown(d.adminIps.join(','))}]: `, (a) =>
      (a ? a.split(',').map((x) => x.trim()).filter(Boolean).map((x) => parseHost(x, 'admin address').address) : d.adminIps));
    const iface = await askValid(rl, `Interface facing the internet [${shown(d.interface)}]: `, (a) => checkInterface(a || d.interface));
    if (iface !== d.interface) changed.add('interface');
    const pub = await askValid(rl, `Public address users knock on (for knock.FAQ) [${shown(d.publicIp)}]: `, (a) => (a ? parseHost(a, 'public address').address : d.publicIp));
    if (pub !== d.publicIp) changed.add('publicIp');
    const contact = await askValid(rl, `Whom users ask when knocking fails (name, phone or e-mail) [${shown(d.adminContact)}]: `, (a) => (a ? parseContact(a) : d.adminContact));
    if (contact !== d.adminContact) changed.add('adminContact');
    return { detected: { ...d, adminIps: [...new Set(adminIps)], interface: iface, publicIp: pub, adminContact: contact }, changed };
  } finally {
    rl.close();
  }
}

/** knock.FAQ would name no address the internet reaches: ask once more, Enter goes on without one. */
export async function askPublicAddress(why: string): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await askValid(rl, `${why}\nPublic address users knock on (Enter to go on without one): `, (a) => (a ? parseHost(a, 'public address').address : undefined));
  } finally {
    rl.close();
  }
}

/** A yes/no question; Enter takes the default, anything else that is not yes or no asks again. */
export async function askYesNo(q: string, yes = true): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await askValid(rl, `${q} [${yes ? 'Y/n' : 'y/N'}] `, (a) => {
      const t = a.toLowerCase();
      if (t === '') return yes;
      if (['y', 'yes'].includes(t)) return true;
      if (['n', 'no'].includes(t)) return false;
      throw new InputError(`'${a.slice(0, 20)}' is neither yes nor no`, 'answer y or n, or Enter for the default');
    });
  } finally {
    rl.close();
  }
}
