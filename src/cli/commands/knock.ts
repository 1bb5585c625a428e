import type { Command } from 'commander';
import { readKnockState } from '../../store/knock-state.js';
import { parseHost } from '../../model/address.js';
import type { Ctx } from '../context.js';

export function register(program: Command, context: () => Promise<Ctx>) {
  const knock = program.command('knock').description('PortKnocker: timed grants, permanent whitelisting, rotation');

  knock.command('grant')
    .description('what knockd runs for a right knock: a timed grant (and an entry, when activated)')
    .argument('<ip>', 'the single IPv4/IPv6 address that knocked')
    .option('-n, --dry-run', 'check the address and say what would be granted, change nothing')
    .action(async (ip: string, opts: { dryRun?: boolean }) => {
      const ctx = await context();
      if (opts.dryRun) {
        const net = parseHost(ip, 'knock address');
        const st = await readKnockState(ctx.paths);
        return ctx.out.line(`would grant ${net.address} ${ctx.config.knock.services.join(',')} for ${ctx.config.knock.grantSeconds}s${st.permanent ? ', and whitelist it permanently unless it already is' : ''}`);
      }
      const { grant } = await import('../../ops/knock-grant.js');
      const r = await grant(ctx, ip);
      ctx.out.ok(`granted ${r.address} for ${ctx.config.knock.grantSeconds}s${r.entry ? `; permanently whitelisted as ${r.entry}` : r.alreadyWhitelisted ? '; already whitelisted' : ''}`);
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
    .description('the sequence, the mode and whether knockd runs')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await context();
      const st = await readKnockState(ctx.paths);
      const s = { enabled: ctx.config.knock.enabled, sequence: st.sequence ?? [], permanent: st.permanent, grantSeconds: ctx.config.knock.grantSeconds, services: ctx.config.knock.services, knockdRunning: await (await import('../../apply/knockd.js')).knockdRunning(ctx.paths) };
      if (opts.json) return ctx.out.json(s);
      ctx.out.line(`knocking: ${s.enabled ? 'enabled' : 'disabled'}; knockd ${s.knockdRunning ? 'running' : 'NOT running'}`);
      ctx.out.line(`sequence: ${s.sequence.join(' ') || 'none yet (tm3 restart makes one)'}; grants last ${s.grantSeconds}s for ${s.services.join(',')}`);
      ctx.out.line(`permanent mode: ${s.permanent ? 'on (knocks become entries)' : 'off'}`);
    });

  knock.command('rotate')
    .description('new sequence, knockd restarted, knock.FAQ rewritten: the old code stops working at once')
    .option('-n, --dry-run', 'show the new sequence, change nothing')
    .action(async (opts: { dryRun?: boolean }) => {
      const ctx = await context();
      const { rotate } = await import('../../ops/knock.js');
      const seq = await rotate(ctx, Boolean(opts.dryRun));
      if (opts.dryRun) return ctx.out.line(`would rotate to ${seq.join(' ')} and rewrite knockd.conf and knock.FAQ`);
      await ctx.out.action(`knock: new sequence ${seq.join(' ')}; knock.FAQ rewritten (${ctx.paths.knockFaq})`);
    });
}
