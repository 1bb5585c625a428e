import type { ChangeResult } from '../../ops/entry-change.js';
import type { Ctx } from '../context.js';

export async function reportChange(ctx: Ctx, summary: string, result: ChangeResult) {
  await ctx.out.action(result.replaced ? `${summary}; it replaced ${result.replaced}` : summary);
  for (const c of result.changes) ctx.out.info(`  ${c}`);
}
