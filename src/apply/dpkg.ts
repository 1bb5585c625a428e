import { run } from './run.js';

/** The checksum dpkg recorded for a package's conffile, or undefined (no dpkg, not installed, not a conffile). */
export async function conffileMd5(pkg: string, file: string): Promise<string | undefined> {
  let out: string;
  try {
    out = (await run('dpkg-query', ['-W', '-f=${Conffiles}\\n', pkg], { allowFail: true, timeoutMs: 10_000 })).stdout;
  } catch {
    return undefined; // not a Debian box
  }
  for (const line of out.split('\n')) {
    const [path, md5] = line.trim().split(/\s+/);
    if (path === file && /^[0-9a-f]{32}$/.test(md5 ?? '')) return md5;
  }
  return undefined;
}
