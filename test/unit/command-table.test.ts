import { expect } from 'chai';
import { Command } from 'commander';
import { COMMANDS, commandWord, modulesFor } from '../../src/cli/command-table.js';

// tm3 loads only the module of the command it is asked for: the table must name exactly the
// top-level commands each module registers, or a command would be "unknown" when called directly.

describe('command table', () => {
  const context = () => Promise.reject(new Error('not run'));

  it('names exactly the top-level commands each module registers, each once', async () => {
    const seen: string[] = [];
    for (const [names, load] of COMMANDS) {
      const program = new Command('tm3');
      (await load()).register(program, context);
      expect(program.commands.map((c) => c.name()), names.join(',')).to.deep.equal(names);
      seen.push(...names);
    }
    expect(new Set(seen).size).to.equal(seen.length);
  });

  it('finds the command word after the global options', () => {
    const argv = (...a: string[]) => ['node', 'tm3', ...a];
    expect(commandWord(argv('--root', '/x', '-q', 'list', '--json'))).to.equal('list');
    expect(commandWord(argv('--root=/x', '--quiet', 'status'))).to.equal('status');
    expect(commandWord(argv('--help'))).to.equal('--help');
    expect(commandWord(argv())).to.equal(undefined);
  });

  it('loads one module for a known command, all of them for help, a typo or none', async () => {
    const argv = (...a: string[]) => ['node', 'tm3', ...a];
    expect(await modulesFor(argv('--root', '/x', 'status'))).to.deep.equal([await import('../../src/cli/commands/list.js')]);
    for (const a of [['--help'], ['lsit'], [], ['help', 'list']]) expect((await modulesFor(argv(...a))).length, a.join(' ')).to.equal(COMMANDS.length);
  });
});
