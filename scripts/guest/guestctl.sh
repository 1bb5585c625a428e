#!/bin/bash
# Prototype harness for booting the cached Debian 12 rootfs under systemd-nspawn
# inside a network namespace we own. Run as root.
#   guestctl.sh net-up NAME        create netns NAME (+ peer netns NAME-c, veth eth0<->eth0, 192.0.2.10/.20)
#   guestctl.sh net-down NAME      delete both netns (drops all netfilter/ipset state = "power off")
#   guestctl.sh copy NAME [overlay|cp]  fresh throwaway root for NAME from the cached rootfs
#   guestctl.sh boot NAME          start nspawn in background, wait until systemd is up
#   guestctl.sh exec NAME CMD...   run CMD in the guest as a transient unit of the guest's systemd
#   guestctl.sh sh NAME CMD...     run CMD via nsenter (host capabilities! see RECIPE.md)
#   guestctl.sh wait-exit NAME     wait for nspawn to exit, print its exit code (133 = reboot)
#   guestctl.sh stop NAME          poweroff the guest, wait for nspawn to exit
#   guestctl.sh destroy NAME       stop, unmount, delete copy and netns
set -euo pipefail
ROOTFS=${ROOTFS:-/var/cache/tm3/guest/bookworm-v1}
STATE=${STATE:-/var/cache/tm3/guest/run}
cmd=$1 name=$2; shift 2
S=$STATE/$name

leader() { # container pid 1 as seen from the host: the child of nspawn whose NSpid ends in 1
  local np c
  np=$(cat "$S/nspawn.pid" 2>/dev/null) || return 1
  for c in $(pgrep -P "$np" 2>/dev/null); do
    # before nspawn's inner child execs /sbin/init it is still "systemd-nspawn"
    [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] || continue
    awk '/^NSpid:/ { exit ($NF == 1 ? 0 : 1) }' "/proc/$c/status" 2>/dev/null && { echo "$c"; return 0; }
  done
  return 1
}
running() { [ -f "$S/nspawn.pid" ] && kill -0 "$(cat "$S/nspawn.pid")" 2>/dev/null; }

case $cmd in
net-up)
  "$0" net-down "$name"   # idempotent: a stale netns keeps old netfilter state
  ip netns add "$name"; ip -n "$name" link set lo up
  ip netns add "$name-c"; ip -n "$name-c" link set lo up
  ip -n "$name" link add eth0 type veth peer name eth0 netns "$name-c"
  ip -n "$name" addr add 192.0.2.10/24 dev eth0; ip -n "$name" link set eth0 up
  ip -n "$name-c" addr add 192.0.2.20/24 dev eth0; ip -n "$name-c" link set eth0 up
  ;;
net-down)
  ip netns del "$name" 2>/dev/null || true; ip netns del "$name-c" 2>/dev/null || true ;;
copy)
  mode=${1:-overlay}
  mountpoint -q "$S/root" && umount "$S/root"
  rm -rf "$S"; mkdir -p "$S"
  if [ "$mode" = overlay ]; then
    mkdir -p "$S/upper" "$S/work" "$S/root"
    mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$S/upper,workdir=$S/work" "$S/root"
  else
    cp -a --reflink=auto "$ROOTFS" "$S/root"
  fi
  ;;
boot)
  running && { echo "already running" >&2; exit 1; }
  rm -f "$S/rc" "$S/nspawn.pid"
  export CAPS API_VFS NSPAWN_EXTRA   # test knobs (unset = defaults)
  # setsid: own session/process group, so the harness can kill it cleanly; stdin
  # from /dev/null + --console=read-only: guest console goes to $S/console.log.
  setsid bash -c '
    vfs=${API_VFS-network}
    env ${vfs:+SYSTEMD_NSPAWN_API_VFS_WRITABLE=$vfs} systemd-nspawn $NSPAWN_EXTRA \
      --quiet --directory="$1/root" --machine="$2" --boot \
      --register=no --keep-unit \
      --network-namespace-path="/run/netns/$2" \
      ${CAPS-"--capability=CAP_NET_ADMIN,CAP_NET_RAW"} \
      --console=read-only --setenv=SYSTEMD_COLORS=0 \
      </dev/null >>"$1/console.log" 2>&1 &
    echo $! >"$1/nspawn.pid"; wait $!; echo $? >"$1/rc"' _ "$S" "$name" \
    </dev/null >/dev/null 2>&1 &   # detach fully: an inherited stdout would make $(guestctl boot) hang

  for _ in $(seq 300); do L=$(leader) && break; sleep 0.1; done
  [ -n "${L:-}" ] || { echo "no leader; console:" >&2; tail -20 "$S/console.log" >&2; exit 1; }
  # pid 1 answers on its private bus early; --wait blocks until startup finished.
  for _ in $(seq 100); do
    # "offline" = pid 1 not up yet; empty = bus not ready (Failed to connect to bus)
    st=$(nsenter -t "$L" -a systemctl is-system-running --wait 2>/dev/null) || true
    case $st in running|degraded|maintenance|stopping) break ;; esac; sleep 0.1
  done
  echo "${st:-unknown}"
  ;;
exec)
  L=$(leader); nsenter -t "$L" -a systemd-run --quiet --wait --pipe --collect -- "$@" ;;
sh)
  L=$(leader); nsenter -t "$L" -a "$@" ;;
wait-exit)
  while running; do sleep 0.1; done
  for _ in $(seq 50); do [ -f "$S/rc" ] && break; sleep 0.1; done
  cat "$S/rc" ;;
stop)
  if running; then
    L=$(leader) && nsenter -t "$L" -a systemctl poweroff --no-block || kill -TERM "$(cat "$S/nspawn.pid")"
    for _ in $(seq 600); do running || break; sleep 0.1; done
    if running; then kill -KILL "$(cat "$S/nspawn.pid")"; fi
  fi ;;
destroy)
  "$0" stop "$name"
  mountpoint -q "$S/root" && umount "$S/root"
  rm -rf "$S"; "$0" net-down "$name" ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
