import type { Command } from 'commander';
import type { Ctx } from './context.js';

export interface CommandModule { register(program: Command, context: () => Promise<Ctx>): void }

/**
 * Every command module with the top-level commands it registers, in help order. A call that names
 * one of them loads only that module (linking all sixteen and what they import costs more than
 * Node's own start); help, a typo or no command loads them all (test/unit/command-table.test.ts
 * checks the names against what each module registers).
 */
export const COMMANDS: [string[], () => Promise<CommandModule>][] = [
  [['add-ip'], () => import('./commands/add-ip.js')],
  [['add-fqdn'], () => import('./commands/add-fqdn.js')],
  [['del-acct'], () => import('./commands/del-acct.js')],
  [['list', 'status'], () => import('./commands/list.js')],
  [['restart'], () => import('./commands/restart.js')],
  [['refresh'], () => import('./commands/refresh.js')],
  [['render'], () => import('./commands/render.js')],
  [['doctor'], () => import('./commands/doctor.js')],
  [['knock'], () => import('./commands/knock.js')],
  [['fail2ban'], () => import('./commands/fail2ban.js')],
  [['migrate'], () => import('./commands/migrate.js')],
  [['unban'], () => import('./commands/unban.js')],
  [['provider'], () => import('./commands/provider.js')],
  [['restore'], () => import('./commands/restore.js')],
  [['why'], () => import('./commands/why.js')],
  [['user'], () => import('./commands/user.js')],
  [['callin'], () => import('./commands/callin.js')],
];

/** The command word of an argv: the first word after tm3's global options. */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--root') i++;
    else if (a.startsWith('--root=') || a === '-q' || a === '--quiet') continue;
    else return a;
  }
  return undefined;
}

/** The modules to register for this call: the one that holds its command, or all of them. */
export function modulesFor(argv: string[]): Promise<CommandModule[]> {
  const word = commandWord(argv);
  const one = COMMANDS.filter(([names]) => word !== undefined && names.includes(word));
  return Promise.all((one.length === 1 ? one : COMMANDS).map(([, load]) => load()));
}
