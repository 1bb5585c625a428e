// Few error types, one catch at the top (src/cli/main.ts). Every message names the fix.

/** Exit codes are part of the CLI contract; README documents them. */
export const EXIT = {
  ok: 0,
  failed: 1, // the kernel or a daemon refused a change; previous state kept
  usage: 2, // bad input or bad config; nothing changed
  missing: 3, // a prerequisite is missing (a tool, root, a lock)
} as const;

export class Tm3Error extends Error {
  constructor(
    message: string,
    readonly fix: string,
    readonly exitCode: number = EXIT.failed,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'Tm3Error';
  }
}

/** Input a user typed (or a file an admin wrote) is wrong. Nothing was changed. */
export class InputError extends Tm3Error {
  constructor(message: string, fix: string) {
    super(message, fix, EXIT.usage);
    this.name = 'InputError';
  }
}

/** A tool, a permission or a lock is missing. */
export class PrereqError extends Tm3Error {
  constructor(message: string, fix: string, detail?: string) {
    super(message, fix, EXIT.missing, detail);
    this.name = 'PrereqError';
  }
}
