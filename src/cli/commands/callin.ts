import type { Command } from 'commander';
import type { Ctx } from '../context.js';

// tm3 callin: call in to open the door (issue 19). enable|disable|status for the admin, and
// `agi`, the dialog itself, which Asterisk reaches through tm3-callin.socket (FastAGI).

export function register(program: Command, context: () => Promise<Ctx>) {
  const callin = program.command('callin').description('call in to open the door: a person dials in, keys their PIN and an address, and gets a timed grant');

  for (const [name, on, what] of [
    ['enable', true, 'write the dialplan include ([callin] extension, context), #include it, and start the FastAGI socket'],
    ['disable', false, 'empty the dialplan context and stop the FastAGI socket: calls open nothing'],
  ] as const) {
    callin.command(name)
      .description(what)
      .option('-n, --dry-run', 'show the files that would be written, change nothing')
      .action(async (opts: { dryRun?: boolean }) => {
        const ctx = await context();
        const { planCallin, applyCallin } = await import('../../callin/enable.js');
        const plan = await planCallin(ctx, on);
        if (opts.dryRun) {
          ctx.out.line(`would ${name} call-in (${plan.flavour}):`);
          if (plan.includerMissing) ctx.out.line(`  ${plan.includerMissing} is missing: enable would stop there`);
          for (const f of plan.files) ctx.out.line(`--- ${ctx.paths.inServer(f.path)}\n${f.text}`);
          return;
        }
        const notes = await applyCallin(ctx, plan, on);
        await ctx.out.action(`callin: ${on ? `enabled: dial ${ctx.config.callin.extension} in [${ctx.config.callin.context}]` : 'disabled'}; ${notes.join('; ')}`);
      });
  }

  callin.command('status')
    .description('whether call-in is on, where its dialplan is, who has a PIN, and wrong PINs in the last hour')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const ctx = await context();
      const s = await (await import('../../callin/enable.js')).callinStatus(ctx);
      if (opts.json) return ctx.out.json(s);
      ctx.out.line(`call-in: ${s.enabled ? 'enabled' : 'disabled'} (${s.flavour}: ${s.file}${s.includer ? `, ${s.included ? 'included from' : 'NOT included from'} ${s.includer}` : ''})`);
      ctx.out.line(`dial ${s.extension} in [${s.context}]; FastAGI on 127.0.0.1:${s.port} ${s.listening ? 'listening' : s.listenerUid !== null ? `NOT tm3's: uid ${s.listenerUid} listens there and would hear every PIN (tm3 callin disable, then find it with ss -ltnpe)` : 'NOT listening'} (only ${s.agiUser} and root may connect)`);
      if (!s.knockEnabled) ctx.out.line('grants go through the knock sets, and [knock] enabled = false: calls open nothing');
      ctx.out.line(`people with a PIN: ${s.peopleWithPin.join(', ') || 'none (tm3 user pin NAME)'}`);
      ctx.out.line(`wrong PINs in the last hour: ${s.wrongPinsLastHour} of at most ${s.maxWrongPinsPerHour}`);
    });

  callin.command('agi')
    .description('the call itself, as Asterisk\'s AGI: stdin/stdout are the FastAGI connection (tm3-callin.socket) or a plain AGI\'s pipes')
    .action(async () => {
      const ctx = await context();
      const { serveCall, stdinPeer } = await import('../../callin/serve.js');
      const r = await serveCall(ctx, process.stdin, process.stdout, stdinPeer());
      // stdout is the AGI channel: a report there would be read as a command, so it goes to stderr (the journal)
      process.stderr.write(`tm3 callin: ${r.outcome}${r.person ? ` ${r.person}` : ''}${r.address ? ` ${r.address}` : ''}${r.detail ? `: ${r.detail}` : ''}\n`);
      process.stdin.destroy();
    });
}
