import { EXIT, Tm3Error } from '../model/errors.js';
import { errorLine } from './output.js';

/** The one catch: every failure becomes one line that names the fix, and a meaningful exit code. */
export function handleError(err: unknown, program: string): number {
  // commander's own (every one has a 'commander.' code): tested by code, so that a path
  // without commander (list-fast.ts) does not load it only for this
  if (typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('commander.')) {
    const e = err as { code: string };
    return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code) ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof Tm3Error) {
    process.stderr.write(`${errorLine(err.message, err.fix, program)}\n`);
    if (err.detail && (process.env.TM3_DEBUG || err.exitCode !== EXIT.usage)) process.stderr.write(`${err.detail.replace(/^/gm, '  ')}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EACCES' || e?.code === 'EPERM') {
    process.stderr.write(`${errorLine(`permission denied: ${e.message}`, `run ${program} as root`, program)}\n`);
    return EXIT.missing;
  }
  process.stderr.write(`${errorLine(`unexpected error: ${e?.message ?? String(err)}`, `this is a tm3 bug; run again with TM3_DEBUG=1 and report the output`, program)}\n`);
  if (process.env.TM3_DEBUG) process.stderr.write(`${e?.stack}\n`);
  return EXIT.failed;
}
