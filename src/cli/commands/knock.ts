import { Option, type Command } from 'commander';
import { readKnockState } from '../../store/knock-state.js';
import { parseHost } from '../../model/address.js';
import { InputError } from '../../model/errors.js';
import type { Grant } from '../../ops/grants.js';
import { guardOptions, addGuardOptions } from './guard-options.js';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  const knock = program.command('knock').description('PortKnocker: timed grants, permanent whitelisting, rotation');

  knock.command('grant')
    .description('what knockd runs for a right knock: a timed grant (and an entry, when activated)')
    .argument('<ip>', 'the single IPv4/IPv6 address that knocked')
    .option('-n, --dry-run', 'check the address and say what would be granted, change nothing')
    .addOption(new Option('--granted', 'the timed grant is in already (knockd\'s fast path made it): check, then do the rest').hideHelp())
    .option('--person <name>', "the grant is this person's (fwknopd's stanza for them passes it): recorded, audited, refused once they are revoked or expired")
    .option('--from <ip>', "the packet's own source address; the grant is refused unless it is <ip> (a resent packet)")
    .option('--method <how>', 'how they opened, for the audit log: knock or spa', 'knock')
    .action(async (ip: string, opts: { dryRun?: boolean; granted?: boolean; person?: string; from?: string; method?: string }) => {
      if (opts.method !== 'knock' && opts.method !== 'spa') throw new InputError(`--method '${String(opts.method).slice(0, 20)}' is neither knock nor spa`, 'use --method knock or --method spa');
      const ctx = await context();
      if (opts.dryRun) {
        const net = parseHost(ip, 'knock address');
        const st = await readKnockState(ctx.paths);
        return ctx.out.line(`would grant ${net.address} ${ctx.config.knock.services.join(',')} for ${ctx.config.knock.grantSeconds}s${st.permanent ? ', and whitelist it permanently unless it already is' : ''}`);
      }
      const { grant } = await import('../../ops/knock-grant.js');
      const r = await grant(ctx, ip, Boolean(opts.granted), { person: opts.person, from: opts.from, method: opts.method as 'knock' | 'spa' });
      ctx.out.ok(`granted ${r.address} for ${r.seconds}s${opts.person ? ` to ${opts.person}` : ''}${r.entry ? `; permanently whitelisted as ${r.entry}` : r.alreadyWhitelisted ? '; already whitelisted' : ''}`);
      if (r.timedOnly) ctx.out.warn(`no permanent entry for ${r.address}: ${r.timedOnly}`);
    });

  for (const [name, on, what] of [['activate', true, 'let knocks whitelist their address permanently (entries named by timestamp)'], ['deactivate', false, 'knocks give timed access only']] as const) {
    knock.command(name)
      .description(what)
      .option('-n, --dry-run', 'say what would change, change nothing')
      .action(async (opts: { dryRun?: boolean }) => {
        const ctx = await context();
        const now = (await readKnockState(ctx.paths)).permanent;
        if (opts.dryRun) return ctx.out.line(now === on ? `permanent mode is already ${on ? 'on' : 'off'}; nothing would change` : `would switch permanent mode ${on ? 'on' : 'off'} and rewrite knock.FAQ`);
        await (await import('../../ops/knock.js')).setPermanent(ctx, on);
        await ctx.out.action(`knock: permanent mode ${on ? 'activated' : 'deactivated'}`);
      });
  }

  knock.command('status')
    .description('the sequence, the mode, whether knockd runs, and who still uses the site sequence')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await context();
      const st = await readKnockState(ctx.paths);
      const { liveGrants, withPeople } = await import('../../ops/grants.js');
      const { loadState } = await import('../../ops/state.js');
      const { permanentLastHour } = await import('../../ops/knock-grant.js');
      const made = permanentLastHour((await loadState(ctx)).entries);
      const share = await (await import('../../ops/site-knock.js')).siteKnockShare(ctx);
      const s = { enabled: ctx.config.knock.enabled, sequence: st.sequence ?? [], permanent: st.permanent, grantSeconds: ctx.config.knock.grantSeconds, services: ctx.config.knock.services, knockdRunning: await (await import('../../apply/knockd.js')).knockdRunning(ctx.paths), grants: await withPeople(ctx.paths, await liveGrants()), permanentLastHour: made, maxPermanentPerHour: ctx.config.knock.maxPermanentPerHour, siteSequence: share };
      if (opts.json) return ctx.out.json(s);
      ctx.out.line(`knocking: ${s.enabled ? 'enabled' : 'disabled'}; knockd ${s.knockdRunning ? 'running' : 'NOT running'}`);
      ctx.out.line(`sequence: ${s.sequence.join(' ') || 'none yet (tm3 restart makes one)'}; grants last ${s.grantSeconds}s for ${s.services.join(',')}`);
      ctx.out.line(`site sequence: ${s.enabled ? 'works' : 'off'} for everyone who has knock.FAQ; it opened ${share.openings} time(s) from ${share.addresses} address(es)${share.since ? ` since ${share.since}` : ''}`);
      ctx.out.line(`people: ${share.people} (tm3 user), ${share.withOwnKnock} with their own knock${share.withoutOwnKnock.length ? `; without one: ${share.withoutOwnKnock.join(' ')} (tm3 user rotate NAME gives one)` : ''}${share.openings ? '; to move everyone to personal codes, see the README (Travellers)' : ''}`);
      ctx.out.line(`permanent mode: ${s.permanent ? `on (knocks become entries; ${made} of at most ${s.maxPermanentPerHour} in the last hour${made >= s.maxPermanentPerHour ? ': CAPPED, new knocks get timed grants only' : ''})` : 'off'}`);
      ctx.out.line(grantLines(s.grants));
    });

  addGuardOptions(knock.command('revoke')
    .description('end live knock grants now (the kernel would end them at their timeout): one address, or --all')
    .argument('[address]', 'the address whose grant ends')
    .option('--all', 'end every live grant')
    .option('-n, --dry-run', 'list the grants that would end, change nothing'))
    .action(async (address: string | undefined, opts: { all?: boolean; dryRun?: boolean; force?: boolean; confirmSeconds?: string }) => {
      if (Boolean(address) === Boolean(opts.all)) throw new InputError('name one address, or pass --all', 'tm3 knock revoke 203.0.113.7, or tm3 knock revoke --all');
      const which = address ? parseHost(address, 'address').address : 'all';
      const guard = guardOptions(opts);
      const ctx = await context();
      const { revokeGrants } = await import('../../ops/grants.js');
      const gone = await revokeGrants(ctx, which, { dryRun: Boolean(opts.dryRun), guard });
      if (gone.length === 0) return ctx.out.line(which === 'all' ? 'no live grant to revoke' : `${which} has no live grant`);
      const list = gone.map((g) => `${g.address} (${g.secondsLeft}s left)`).join(', ');
      if (opts.dryRun) return ctx.out.line(`would end the grant of ${list}`);
      await ctx.out.action(`knock: ended the grant of ${list}`);
    });

  knock.command('rotate')
    .description('new sequence, knockd restarted, knock.FAQ rewritten: the old code stops working at once')
    .option('-n, --dry-run', 'show the new sequence (kept aside, so the real rotate uses it), change nothing else')
    .action(async (opts: { dryRun?: boolean }) => {
      const ctx = await context();
      const { rotate } = await import('../../ops/knock.js');
      const r = await rotate(ctx, Boolean(opts.dryRun));
      const seq = r.sequence.join(' ');
      if (r.dropped) ctx.out.warn(`${r.dropped}; ${opts.dryRun ? 'showing' : 'using'} a new one`);
      if (opts.dryRun) ctx.out.line(`would rotate to ${seq} and rewrite knockd.conf and knock.FAQ (tm3 knock rotate will use exactly this sequence)`);
      else await ctx.out.action(`knock: new sequence ${seq}${r.asShown ? ' (the one the dry run showed)' : ''}; knock.FAQ rewritten (${ctx.paths.knockFaq})`);
      // Someone left: the new code stops their knocks, but what their knocks already whitelisted stays.
      const { loadState } = await import('../../ops/state.js');
      const { entryAddresses } = await import('../../plan/sets.js');
      const { entries, cache } = await loadState(ctx);
      const knocked = entries.filter((e) => e.source === 'knock');
      if (knocked.length === 0) return ctx.out.line('no permanent knock entries to review');
      ctx.out.line(`permanent knock entries to review (tm3 del-acct NAME removes one; tm3 knock revoke --all ends timed grants):`);
      for (const e of knocked) ctx.out.line(`  ${e.name}  ${entryAddresses(e, cache).join(' ')}  ${e.services.join(',')}  added ${e.added}`);
    });
}

/** Live grants with their time left, for knock status and tm3 status. */
export function grantLines(grants: Grant[]): string {
  if (grants.length === 0) return 'live grants: none';
  return `live grants (the kernel ends each at its time; tm3 knock revoke ADDRESS ends one now):\n${grants.map((g) => `  ${g.address}  ${g.secondsLeft}s left${g.people ? `  (${g.people.join(', ')})` : ''}`).join('\n')}`;
}
