import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import { printable } from '../../model/address.js';
import { ALL, parseServiceList } from '../../model/services.js';
import { validatePersonName, parseExpires, parseDuration, expired } from '../../model/person.js';
import { guardOptions, addGuardOptions } from './guard-options.js';
import type { Ctx } from '../context.js';
import { registerPin } from './user-pin.js';

const yesNo = (v: string | undefined, what: string): boolean | undefined => {
  if (v === undefined) return undefined;
  if (v === 'yes' || v === 'no') return v === 'yes';
  throw new InputError(`${what} '${printable(v)}' is neither yes nor no`, `use ${what} yes or ${what} no`);
};

export function register(program: Command, context: () => Promise<Ctx>) {
  const user = program.command('user').description('personal access: one person, their own knock, SPA keys, call-in PIN and card, revoked alone');
  registerPin(user, context);

  user.command('add')
    .description('a new person with their own knock and fwknop keys; their card is /root/tm3-users/NAME.FAQ')
    .argument('<name>', 'lower-case letters, digits, _ or - (e.g. alice)')
    .option('--services <list>', 'what their openings may reach (a subset of [knock] services)', ALL)
    .option('--expires <date>', 'the day (UTC) their access ends by itself, e.g. 2027-03-31')
    .option('--grant <duration>', 'how long one opening lasts (90m, 8h, 1d); default [knock] grant_seconds')
    .option('--permanent <yes|no>', 'whether an opening also whitelists their address for good (an entry NAME-YYYYmmdd-HHMMSS)', 'no')
    .option('-n, --dry-run', 'say what would be created, change nothing')
    .action(async (name: string, opts: { services: string; expires?: string; grant?: string; permanent?: string; dryRun?: boolean }) => {
      validatePersonName(name);
      const expires = opts.expires !== undefined ? parseExpires(opts.expires) : undefined;
      const grantSeconds = opts.grant !== undefined ? parseDuration(opts.grant) : undefined;
      const permanent = yesNo(opts.permanent, '--permanent') ?? false;
      const ctx = await context();
      const services = parseServiceList(opts.services, ctx.config.catalog);
      const { addPerson } = await import('../../ops/people.js');
      const r = await addPerson(ctx, name, { services, expires, grantSeconds, permanent, dryRun: Boolean(opts.dryRun) });
      const what = `${services.join(',')}${expires ? `, until ${expires}` : ''}, ${r.person.grantSeconds ?? ctx.config.knock.grantSeconds}s per opening${permanent ? ', permanent entries' : ''}`;
      if (opts.dryRun) return ctx.out.line(`would add ${name} (${what}) with new SPA keys, a stanza in ${ctx.paths.inServer(ctx.paths.fwknopAccess)} and the card ${r.card}`);
      await ctx.out.action(`user: added ${name} (${what}); card ${r.card}; fwknopd ${r.fwknopd}`);
    });

  user.command('list')
    .description('each person: services, expiry, last access (when, from where, how) and their permanent entries')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await context();
      const [{ readPeople, readLastAccess }, { loadState }] = await Promise.all([import('../../store/people.js'), import('../../ops/state.js')]);
      const { people, warnings } = await readPeople(ctx.paths, ctx.config.catalog);
      for (const w of warnings) ctx.out.warn(w);
      const { entries } = await loadState(ctx);
      const rows = await Promise.all(people.map(async (p) => ({
        name: p.name, services: p.services, knock: p.knock ?? null, expires: p.expires ?? null, expired: expired(p), grantSeconds: p.grantSeconds ?? ctx.config.knock.grantSeconds, permanent: p.permanent, added: p.added,
        lastAccess: (await readLastAccess(ctx.paths, p.name)) ?? null,
        entries: entries.filter((e) => e.person === p.name).map((e) => ({ name: e.name, target: e.address?.cidr ?? e.host ?? '', services: e.services })),
      })));
      if (opts.json) return ctx.out.json(rows);
      if (rows.length === 0) return ctx.out.line('no people yet (tm3 user add NAME)');
      for (const r of rows) {
        const last = r.lastAccess ? `last in ${r.lastAccess.at} from ${r.lastAccess.from} by ${r.lastAccess.method}` : 'never in';
        ctx.out.line(`${r.name}  ${r.services.join(',')}  ${r.expires ? `${r.expired ? 'EXPIRED' : 'until'} ${r.expires}` : 'no end date'}  ${last}`);
        for (const e of r.entries) ctx.out.line(`    entry ${e.name}  ${e.target}  ${e.services.join(',')}`);
      }
    });

  addGuardOptions(user.command('revoke')
    .description("remove a person at once: their knock, SPA stanza, live grants, permanent entries and established flows; nobody else's")
    .argument('<name>', 'the person')
    .option('-n, --dry-run', 'list what would end, change nothing'))
    .action(async (name: string, opts: { dryRun?: boolean; force?: boolean; confirmSeconds?: string }) => {
      validatePersonName(name);
      const guard = guardOptions(opts);
      const ctx = await context();
      const { revokePerson } = await import('../../ops/people.js');
      const r = await revokePerson(ctx, name, { dryRun: Boolean(opts.dryRun), guard });
      const what = `grants ${r.grants.join(' ') || 'none'}; entries ${r.entries.join(' ') || 'none'}${r.shared.length ? `; kept the grant of ${r.shared.join(' ')}, which another person holds too` : ''}`;
      if (opts.dryRun) return ctx.out.line(`would revoke ${name}: their knock, SPA stanza and card; ${what}`);
      await ctx.out.action(`user: revoked ${name}; ended ${what}`);
    });

  user.command('rotate')
    .description('new SPA keys and knock for one person: the old ones stop working at once, their card is rewritten')
    .argument('<name>', 'the person')
    .option('-n, --dry-run', 'say what would change, change nothing')
    .action(async (name: string, opts: { dryRun?: boolean }) => {
      validatePersonName(name);
      const ctx = await context();
      const { rotatePerson } = await import('../../ops/people.js');
      const card = await rotatePerson(ctx, name, Boolean(opts.dryRun));
      if (opts.dryRun) return ctx.out.line(`would give ${name} new SPA keys and knock, and rewrite ${card}`);
      await ctx.out.action(`user: new SPA keys and knock for ${name}; give them ${card}`);
    });
}
