#!/bin/bash
# Build a cached Debian unstable rootfs holding Asterisk, for the PBX lab tests (run as root).
# Asterisk is not in Debian 12; unstable has it (22.x). Idempotent: nothing to do when the marker
# exists. A failed build exits non-zero with apt's own error on stderr: the tests fail on it, they
# never skip. Prints the rootfs path on its last line.
set -euo pipefail
. "$(dirname "$0")/image.sh"   # the cache key
ROOT=${ROOT:-$ASTERISK_ROOTFS}
[ -e "$ROOT/.tm3-rootfs-ok" ] && { echo "rootfs cached"; echo "$ROOT"; exit 0; }
# One build at a time: a second run (a parallel job, or a rerun after a killed one) waits here, then
# finds the cache made; a killed build's leftovers are unmounted and removed below.
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9
[ -e "$ROOT/.tm3-rootfs-ok" ] && { echo "rootfs cached"; echo "$ROOT"; exit 0; }

# The only reachable mirror is the one the host's apt uses.
MIRROR=${MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
    awk '$2 == "bookworm" { print $1; exit }')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
echo "mirror: $MIRROR"
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap

TMP=$ROOT.tmp
# whatever debootstrap left mounted in the target (it mounts proc and sys), deepest first; then
# the removal stays on this filesystem, whatever is still mounted
# (grep finds nothing on a clean machine: under pipefail that must not end the build)
cleanup() { { findmnt -rn -o TARGET | grep -F "$TMP/" || true; } | sort -r | while read -r m; do umount -l "$m"; done; return 0; }
trap cleanup EXIT
cleanup; rm -rf --one-file-system "$TMP"

# Stage 1: a bare unstable. debootstrap's resolver cannot take asterisk itself (asterisk-config |
# asterisk-config-custom is an alternative), so apt installs it in stage 2.
debootstrap --variant=minbase unstable "$TMP" "$MIRROR"

# Stage 2. A snapshot of unstable may carry a Release file past its Valid-Until; apt would refuse
# it ("is expired"), which says nothing about Asterisk: accept it, nothing else is relaxed.
echo 'Acquire::Check-Valid-Until "false";' >"$TMP/etc/apt/apt.conf.d/99tm3-lab"
printf '#!/bin/sh\nexit 101\n' >"$TMP/usr/sbin/policy-rc.d"; chmod 755 "$TMP/usr/sbin/policy-rc.d"
chroot "$TMP" apt-get update -q
chroot "$TMP" apt-get install -y -q -d --no-install-recommends asterisk
# offline, in an empty network namespace: no maintainer script can touch the host's network
unshare --net --mount --propagation private --fork sh -c "
  mount -t proc proc '$TMP/proc'
  DEBIAN_FRONTEND=noninteractive chroot '$TMP' apt-get install -y -q --no-install-recommends asterisk
"
chroot "$TMP" apt-get clean
rm -f "$TMP/usr/sbin/policy-rc.d"
chroot "$TMP" asterisk -V
touch "$TMP/.tm3-rootfs-ok"
trap - EXIT
mv "$TMP" "$ROOT"
du -sh "$ROOT" >&2
echo "$ROOT"
