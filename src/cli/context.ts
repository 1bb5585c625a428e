import { loadConfig, type Config } from '../store/config.js';
import { Paths, validateRoot } from '../store/paths.js';
import { Output } from './output.js';

export interface Ctx {
  paths: Paths;
  config: Config;
  out: Output;
}

export interface GlobalOpts { root?: string; quiet?: boolean }

/** The root comes from --root, then TM3_ROOT, then "/". */
export async function makeContext(opts: GlobalOpts): Promise<Ctx> {
  const root = validateRoot(opts.root ?? process.env.TM3_ROOT ?? '/');
  const base = new Paths(root);
  const config = await loadConfig(base);
  const out = new Output(Boolean(opts.quiet));
  for (const w of config.warnings) out.warn(w);
  return { paths: base.withStoreDir(config.storeDir), config, out };
}
