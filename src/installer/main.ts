#!/usr/bin/env node
// The installer is its own piece of work; until it lands, say so plainly and fail.
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write('Usage: tm3-install [options]\n\nNot yet: the installer is not built. Use the tm3 command (tm3 --help).\n');
} else {
  process.stderr.write('tm3-install: not yet. The installer is not built; see README.md for tm3 restart/add-ip.\n');
  process.exitCode = 1;
}
