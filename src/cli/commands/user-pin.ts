import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import { validatePersonName } from '../../model/person.js';
import type { Ctx } from '../context.js';

// `tm3 user pin NAME`: the person's call-in PIN (issue 19). Its own module, wired into `tm3 user`
// with one line, so the people commands (issue 18) stay as they are.

/** One line typed without echo on a terminal (a PIN on screen is a PIN shoulder-surfed). */
async function readHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  // raw (no echo) before the question shows: a fast typist's first digits are never echoed
  stdin.setRawMode(true);
  stdin.resume();
  process.stdout.write(question);
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') { done(); resolve(text); return; }
        if (ch === '\u0003') { done(); reject(new InputError('cancelled', 'run tm3 user pin again')); return; }
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    const done = () => { stdin.off('data', onData); stdin.setRawMode(false); stdin.pause(); process.stdout.write('\n'); };
    stdin.on('data', onData);
  });
}

/** One line from a pipe (a script, a password manager), never echoed anywhere. */
async function readLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n') || text.length > 200) break;
  }
  return text.split('\n')[0].trim();
}

export function registerPin(user: Command, context: () => Promise<Ctx>) {
  user.command('pin')
    .description('set the call-in PIN of a person (6-12 digits): asked twice on a terminal, one line from standard input otherwise; only a salted hash is kept')
    .argument('<name>', 'the person')
    .option('--clear', 'remove their PIN: their calls open nothing')
    .option('-n, --dry-run', 'check the PIN and say what would change, change nothing')
    .action(async (name: string, opts: { clear?: boolean; dryRun?: boolean }) => {
      validatePersonName(name);
      const ctx = await context();
      const [{ readPerson, readPeople }, { validatePin, hashPin, personBinding }, store] = await Promise.all([
        import('../../store/people.js'), import('../../callin/pin.js'), import('../../callin/pin-store.js')]);
      const person = await readPerson(ctx.paths, ctx.config.catalog, name);
      if (!person) throw new InputError(`there is no person ${name}`, `tm3 user add ${name} first (tm3 user list shows who exists)`);
      const where = ctx.paths.inServer(store.pinFile(ctx.paths, name));
      if (opts.clear) {
        if (opts.dryRun) return ctx.out.line(`would remove ${where}`);
        await store.removePin(ctx.paths, name);
        return ctx.out.action(`user: removed the call-in PIN of ${name}`);
      }
      let pin: string;
      // a terminal on stdin is a person typing, even with stdout redirected: never echo there
      if (process.stdin.isTTY) {
        pin = validatePin(await readHidden(`call-in PIN for ${name} (6-12 digits, not shown): `));
        if ((await readHidden('again: ')) !== pin) throw new InputError('the two PINs differ', `run tm3 user pin ${name} again`);
      } else pin = validatePin(await readLine());
      // a PIN names its person on the phone, so two people cannot share one
      const others = (await readPeople(ctx.paths, ctx.config.catalog)).people.filter((p) => p.name !== name);
      if (store.personByPin(ctx.paths, others, pin, 0)) throw new InputError('another person has this PIN', 'pick another PIN');
      if (opts.dryRun) return ctx.out.line(`would set the call-in PIN of ${name} in ${where} (a salted scrypt hash)`);
      await store.writePin(ctx.paths, name, hashPin(pin, personBinding(person)));
      await ctx.out.action(`user: set the call-in PIN of ${name} (${where}, hashed)`);
    });
}
