import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { GuardOptions } from '../../ops/lockout.js';

/** --force and --confirm-seconds, for every command that can take an admin's SSH access away. */
export function addGuardOptions(cmd: Command, alsoForces = ''): Command {
  return cmd
    .option('--force', `go ahead even if it cuts off an admin SSH session (on a terminal: confirm in time, or it is rolled back)${alsoForces ? `; ${alsoForces}` : ''}`)
    .option('--confirm-seconds <n>', 'with --force on a terminal: how long to wait for "yes"', '60');
}

export function guardOptions(opts: { force?: boolean; confirmSeconds?: string }): GuardOptions {
  const seconds = Number(opts.confirmSeconds ?? 60);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) throw new InputError(`--confirm-seconds '${opts.confirmSeconds}' is not a number of seconds`, 'give a whole number from 1 to 3600');
  return { force: Boolean(opts.force), confirmSeconds: seconds };
}
