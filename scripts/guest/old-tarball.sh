#!/bin/bash
# The npm tarball of an older tm3 (default: the end of the first round, 0.1.0), for the boot
# test's upgrade scenario. Built once from this repository's history and cached; prints its path.
set -euo pipefail
REV=${1:-4ef08c7}
OUT=/var/cache/tm3/guest/tm3-install-$REV.tgz
[ -s "$OUT" ] && { echo "$OUT"; exit 0; }
REPO=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
git -C "$REPO" archive "$REV" | tar -x -C "$W"
cd "$W"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
npx tsc -p tsconfig.json >&2
chmod +x dist/cli/main.js dist/installer/main.js
mkdir -p "$(dirname "$OUT")"
mkdir -p "$W/out"
npm pack --silent --ignore-scripts --pack-destination "$W/out" >&2
mv "$W"/out/*.tgz "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "$OUT"
