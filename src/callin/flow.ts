import { isHangup, digitOf, type Channel } from './agi.js';
import { parseKeyed, sayAddress, sayDuration } from './digits.js';
import { PIN_MAX } from './pin.js';

// The call, as a dialog over an AGI channel. Everything that touches the box comes in through
// `Deps`, so the unit tests drive it with a scripted channel. Nothing changes on the box before
// the caller's final "1" except the record of a wrong PIN, and the grant itself is one call:
// a hang-up anywhere leaves either no grant or a whole one.

export type Outcome = 'granted' | 'wrong-pin' | 'refused' | 'rate-limited' | 'hangup' | 'no-address' | 'disabled';

export interface CallResult { outcome: Outcome; person?: string; address?: string; detail?: string; seconds?: number; entry?: string }

export interface Deps<P extends { name: string }> {
  /** why this call may not even try a PIN (a rate limit, call-in disabled) */
  limited(): Promise<string | undefined>;
  personByPin(pin: string): Promise<P | undefined>;
  /** a wrong PIN: counted, and logged for Fail2Ban with the caller's signalling address */
  wrongPin(attempt: number): Promise<void>;
  /** why this address must not be opened (trusted, the server's own, banned), or undefined */
  refusal(address: string): Promise<string | undefined>;
  grant(person: P, address: string): Promise<{ seconds: number; entry?: string }>;
  /** the server's own public address, read back at the end, if known */
  server?: string;
}

export const PIN_TRIES = 3;
const ADDRESS_TRIES = 3;

export async function runCall<P extends { name: string }>(ch: Channel, deps: Deps<P>): Promise<CallResult> {
  // One sound, interruptible by the digits given; the digit pressed, or ''.
  const play = async (file: string, escape = '') => digitOf((await ch.command(`STREAM FILE ${file} "${escape}"`)).result);
  const playAll = async (files: string[], escape = '') => {
    for (const f of files) { const d = await play(f, escape); if (d) return d; }
    return '';
  };
  // A caller who keys ahead, while an error is still being spoken, interrupts it: that first key
  // is kept and starts the next answer, so nothing typed is lost.
  let ahead = '';
  const KEYS = '0123456789*#';
  const ask = async (file: string, max: number) => {
    const first = ahead;
    ahead = '';
    if (first === '#') return '';
    const r = (await ch.command(`GET DATA ${first ? 'silence/1' : file} 10000 ${max - first.length}`)).result;
    return first + r;
  };
  const warn = async (files: string[]) => { ahead = await playAll(files, KEYS); };
  let stage = 'start';
  let person: P | undefined;
  let address: string | undefined;
  try {
    await ch.command('ANSWER');
    const limit = await deps.limited();
    if (limit) {
      await play('please-try-call-later');
      return { outcome: 'rate-limited', detail: limit };
    }
    stage = 'pin';
    for (let attempt = 1; attempt <= PIN_TRIES && !person; attempt++) {
      const pin = (await ask('agent-pass', PIN_MAX)).replace(/[^0-9]/g, '');
      person = pin ? await deps.personByPin(pin) : undefined;
      if (person) break;
      await deps.wrongPin(attempt);
      if (attempt < PIN_TRIES) await warn(['auth-incorrect']);
      else await play('vm-goodbye');
    }
    if (!person) return { outcome: 'wrong-pin', detail: `${PIN_TRIES} wrong PINs` };
    stage = 'address';
    let why = 'no address keyed';
    for (let tries = 0; tries < ADDRESS_TRIES * 2; tries++) {
      const keyed = await ask('vm-enter-num-to-call', 16);
      // nothing keyed in the whole wait: the caller has stopped trying
      if (keyed === '') break;
      const parsed = parseKeyed(keyed);
      if (!parsed.ok) {
        why = parsed.why;
        await warn(['im-sorry', 'invalid']);
        continue;
      }
      address = parsed.address;
      const refused = await deps.refusal(address);
      if (refused) {
        why = refused;
        await warn(['im-sorry', 'pbx-invalid']);
        address = undefined;
        continue;
      }
      stage = 'confirm';
      // read back digit by digit; 1 confirms and 2 re-enters, even in the middle of it
      let choice = await playAll(['you-entered', ...sayAddress(address), 'if-correct-press', 'digits/1'], '12');
      if (!choice) choice = digitOf((await ch.command('WAIT FOR DIGIT 8000')).result);
      if (choice === '1') {
        stage = 'grant';
        let g: { seconds: number; entry?: string };
        try {
          g = await deps.grant(person, address);
        } catch (e) {
          // the grant path's own checks said no (a ban that landed meanwhile, a revoke): nothing was added
          await playAll(['im-sorry', 'pbx-invalid']).catch(() => '');
          return { outcome: 'refused', person: person.name, address, detail: (e as Error).message };
        }
        // the grant is in: what follows is courtesy, a hang-up now changes nothing
        try {
          await playAll(['activated', 'for', ...sayDuration(g.seconds)]);
          if (deps.server) await playAll(['location', ...sayAddress(deps.server)]);
          await play('vm-goodbye');
        } catch (e) { if (!isHangup(e)) throw e; }
        return { outcome: 'granted', person: person.name, address, seconds: g.seconds, ...(g.entry ? { entry: g.entry } : {}) };
      }
      why = `not confirmed (${choice || 'no key'})`;
      address = undefined;
      stage = 'address';
    }
    await play('vm-goodbye');
    return { outcome: address ? 'refused' : why.startsWith('not confirmed') || why === 'no address keyed' ? 'no-address' : 'refused', person: person.name, detail: why };
  } catch (e) {
    if (isHangup(e)) return { outcome: 'hangup', ...(person ? { person: person.name } : {}), ...(address ? { address } : {}), detail: `hung up at ${stage}` };
    throw e;
  }
}
