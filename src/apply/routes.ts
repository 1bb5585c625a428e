import { run } from './run.js';

export interface Route { dst: string; gateway?: string; dev?: string }

/** The main table's routes whose prefix holds ADDRESS ("default" among them), as ip -j prints them. */
export async function routesTo(address: string): Promise<Route[]> {
  const r = await run('ip', [...(address.includes(':') ? ['-6'] : []), '-j', 'route', 'show', 'match', address], { allowFail: true });
  if (r.exitCode !== 0) return [];
  try {
    const parsed: unknown = JSON.parse(r.stdout || '[]');
    return Array.isArray(parsed) ? parsed.filter((x): x is Route => typeof x?.dst === 'string') : [];
  } catch {
    return [];
  }
}
