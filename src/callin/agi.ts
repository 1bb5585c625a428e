import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

// The AGI protocol (plain AGI on stdin/stdout, or FastAGI on a socket handed over as both):
// Asterisk sends agi_* lines and a blank line, then each command gets one "200 result=..." line.
// A hung-up caller shows as "HANGUP" (FastAGI), a 511 answer, result=-1, or the stream ending;
// every one of them ends the dialog with Hangup, and the flow leaves nothing behind.

export class Hangup extends Error {
  constructor() { super('the caller hung up'); this.name = 'Hangup'; }
}

/** By name: a Hangup thrown by another copy of this module (a test double) is one too. */
export const isHangup = (e: unknown) => e instanceof Error && e.name === 'Hangup';

export interface Channel {
  env: Record<string, string>;
  /** one AGI command: its result= value and the text in parentheses after it, if any */
  command(line: string): Promise<{ result: string; data?: string }>;
}

export async function openAgi(input: Readable, output: Writable): Promise<Channel> {
  const rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  let closed = false;
  rl.on('line', (l) => { lines.push(l); waiter?.(); });
  rl.on('close', () => { closed = true; waiter?.(); });
  output.on('error', () => { closed = true; waiter?.(); });
  const next = async (): Promise<string> => {
    for (;;) {
      const l = lines.shift();
      if (l !== undefined) return l;
      if (closed) throw new Hangup();
      await new Promise<void>((r) => { waiter = r; });
      waiter = undefined;
    }
  };
  const env: Record<string, string> = {};
  for (let n = 0; n < 200; n++) {
    const l = await next();
    if (l === '') break;
    const m = /^(agi_[a-z_0-9]+):\s?(.*)$/.exec(l);
    if (m) env[m[1]] = m[2].slice(0, 200);
  }
  let dead = false;
  return {
    env,
    async command(line: string) {
      if (dead || /[\r\n]/.test(line)) throw new Hangup();
      output.write(`${line}\n`);
      for (;;) {
        const l = await next();
        if (l === 'HANGUP') { dead = true; continue; } // FastAGI's notice; the answer follows
        const m = /^(\d{3})\s+result=(-?[^\s]*)(?:\s+\((.*)\))?/.exec(l);
        if (!m) { if (/^\d{3}/.test(l)) { dead = true; throw new Hangup(); } continue; }
        if (m[1] !== '200' || m[2] === '-1') { dead = true; throw new Hangup(); }
        // GET VARIABLE answers 200 result=1 (VALUE); GET DATA 200 result=123 (timeout)
        return { result: m[2], data: m[3] };
      }
    },
  };
}

/** A digit pressed as its character, from the ASCII code STREAM FILE and WAIT FOR DIGIT answer. */
export const digitOf = (result: string) => (/^[1-9][0-9]*$/.test(result) ? String.fromCharCode(Number(result)) : '');
