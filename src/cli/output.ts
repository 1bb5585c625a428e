import { writeSync } from 'node:fs';

const PAUSE = new Int32Array(new SharedArrayBuffer(4));
let readerGone = false;

/**
 * Text to stdout, straight to its descriptor: process.stdout's stream costs every command about
 * 10 ms to load (net, tty), and on Linux it writes pipes, files and terminals synchronously anyway.
 * A reader that went away (tm3 list | head) is not an error: the rest is dropped and the command
 * goes on to its end (a restart must not stop halfway because nobody reads its report).
 */
export function writeOut(text: string): void {
  const buf = Buffer.from(text);
  for (let at = 0; at < buf.length && !readerGone;) {
    try {
      at += writeSync(1, buf, at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') readerGone = true;
      else if (code === 'EAGAIN') Atomics.wait(PAUSE, 0, 0, 5); // a non-blocking pipe, full: wait for the reader
      else throw e;
    }
  }
}

const useColor = (s: NodeJS.WriteStream) => Boolean(s.isTTY) && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
const paint = (s: NodeJS.WriteStream, code: string, text: string) => (useColor(s) ? `\x1b[${code}m${text}\x1b[0m` : text);

/** Everything tm3 says to a person. Warnings and progress go to stderr; colour only on a TTY. */
export class Output {
  constructor(readonly quiet = false) {}
  line(text = '') { writeOut(`${text}\n`); }
  info(text: string) { if (!this.quiet) this.line(text); }
  ok(text: string) { if (!this.quiet) this.line(paint(process.stdout, '32', text)); }
  warn(text: string) { process.stderr.write(`${paint(process.stderr, '33', `tm3: warning: ${text}`)}\n`); }
  json(data: unknown) { this.line(JSON.stringify(data, null, 2)); }
  /** A one-line counter that redraws itself, only on a terminal. */
  progress(label: string) {
    const tty = Boolean(process.stderr.isTTY);
    return {
      tick: (done: number, total: number) => {
        if (tty && total > 1) process.stderr.write(`\r${label} ${done}/${total}${done === total ? '\n' : ''}`);
      },
    };
  }
  /** Say it and put it in the journal/syslog. */
  async action(text: string) {
    this.ok(text);
    await (await import('../apply/system.js')).syslog(text);
  }
}

export function errorLine(message: string, fix: string, program = 'tm3'): string {
  // one line, whatever a hostile argument held: control characters (a newline, an escape that
  // would move the cursor) are shown as '?'
  const line = (t: string) => t.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, '?');
  return `${paint(process.stderr, '31', `${program}: ${line(message)}`)} (fix: ${line(fix)})`;
}
