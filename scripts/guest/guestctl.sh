#!/bin/bash
# Harness for booting the cached Debian 12 rootfs under systemd-nspawn
# inside a network namespace we own. Run as root.
#   guestctl.sh net-up NAME        a new netns NAME (eth0, left for the guest to configure as
#                                  192.0.2.10, 2001:db8::10) cabled to client netns NAME-c (bridge
#                                  br0: 192.0.2.20, 2001:db8::20), which is kept if it exists
#   guestctl.sh net-down NAME      delete both netns
#   guestctl.sh cable NAME up|down carrier on the guest's eth0
#   guestctl.sh client-addr NAME ADDR/LEN...  more addresses on the client side
#   guestctl.sh copy NAME [overlay|cp]  fresh throwaway root for NAME from the cached rootfs
#   guestctl.sh boot NAME [UNIT]   start nspawn in background, wait until systemd is up (or UNIT is active)
#   guestctl.sh exec NAME CMD...   run CMD in the guest as a transient unit of the guest's systemd
#   guestctl.sh sh NAME CMD...     run CMD via nsenter (host capabilities! see RECIPE.md)
#   guestctl.sh wait-exit NAME     wait for nspawn to exit, print its exit code (133 = reboot)
#   guestctl.sh stop NAME          poweroff the guest, wait for nspawn to exit
#   guestctl.sh destroy NAME       stop, unmount, delete copy and netns
set -euo pipefail
. "$(dirname "$0")/image.sh"
ROOTFS=${ROOTFS:-$IMAGE}
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
# ours only: a pid file can outlive its process (the state sits in /var/cache), and a pid is reused
running() {
  local p; p=$(cat "$S/nspawn.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd-nspawn ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--machine=$name "
}

case $cmd in
net-up)
  # The guest's namespace is always new (empty netfilter, as after a power cycle). The client side
  # NAME-c outlives it: its addresses sit on a bridge, so a prober running across a reboot keeps
  # its sockets while the guest's cable is unplugged and plugged back.
  ip netns del "$name" 2>/dev/null || true
  if ! ip netns pids "$name-c" >/dev/null 2>&1; then
    ip netns add "$name-c"; ip -n "$name-c" link set lo up
    ip -n "$name-c" link add br0 type bridge forward_delay 0 stp_state 0
    ip -n "$name-c" addr add 192.0.2.20/24 dev br0
    ip -n "$name-c" addr add 2001:db8::20/64 dev br0 nodad
    ip -n "$name-c" link set br0 up
  fi
  ip -n "$name-c" link del vg0 2>/dev/null || true
  ip netns add "$name"; ip -n "$name" link set lo up
  ip -n "$name" link add eth0 type veth peer name vg0 netns "$name-c"
  ip -n "$name-c" link set vg0 master br0 up
  # eth0 stays down and unaddressed: the guest's ifupdown (or networkd) configures it after
  # netfilter-persistent (network-pre.target), as on a real box. An address set here before boot
  # would answer strangers with an empty netfilter, which no real boot does.
  ;;
net-down)
  ip netns del "$name" 2>/dev/null || true; ip netns del "$name-c" 2>/dev/null || true ;;
cable)   # cable NAME up|down: the carrier the guest's eth0 sees
  ip -n "$name-c" link set vg0 "$1" ;;
client-addr)   # client-addr NAME ADDR/LEN...: more client addresses (admin, entries, strangers)
  for a in "$@"; do ip -n "$name-c" addr add "$a" dev br0 nodad; done ;;
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
      --resolv-conf=off --timezone=off --link-journal=no \
      </dev/null >>"$1/console.log" 2>&1 &
    echo $! >"$1/nspawn.pid"; wait $!; echo $? >"$1/rc"' _ "$S" "$name" \
    </dev/null >/dev/null 2>&1 &   # detach fully: an inherited stdout would make $(guestctl boot) hang

  for _ in $(seq 300); do L=$(leader) && break; sleep 0.1; done
  [ -n "${L:-}" ] || { echo "no leader; console:" >&2; tail -20 "$S/console.log" >&2; exit 1; }
  if [ -n "${1:-}" ]; then
    # boot NAME UNIT: return once UNIT is active, startup may still be going on (a boot without
    # carrier waits two minutes for network-online.target)
    for _ in $(seq 300); do
      nsenter -t "$L" -a systemctl is-active --quiet "$1" 2>/dev/null && { echo starting; exit 0; }
      sleep 0.1
    done
    echo "$1 not active after 30 s" >&2; exit 1
  fi
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
