#!/bin/sh
# Installs what the demo and the test suite need on a fresh Debian machine:
# the Debian packages (as root, only when something is missing) and node_modules.
set -eu
cd "$(dirname "$0")/.."

PKGS="iptables ipset knockd fwknop-server fwknop-client fail2ban dnsmasq-base iproute2 iptables-persistent ipset-persistent netfilter-persistent systemd procps util-linux bsdutils debianutils nmap systemd-container debootstrap sip-tester sipvicious"
need=""
for tool in iptables ip6tables ipset knockd fwknopd fwknop fail2ban-server dnsmasq ip ss netfilter-persistent systemd-analyze pkill flock unshare run-parts script nmap systemd-nspawn debootstrap sipp svmap svcrack; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 || need="$need $tool"
done
if [ -n "$need" ] || [ "${TM3_FORCE_APT:-}" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-deps: missing$need; as root: apt-get install $PKGS (the integration tests will skip without them)" >&2
  else
    echo "ensure-deps: installing Debian packages:$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    # iptables-persistent must not ask, and must not save the host's rules.
    printf '%s\n' 'iptables-persistent iptables-persistent/autosave_v4 boolean false' \
      'iptables-persistent iptables-persistent/autosave_v6 boolean false' | debconf-set-selections
    # Keep package scripts from starting fail2ban, knockd or fwknopd on the host itself.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    apt-get update -q
    apt-get install -y -q --no-upgrade --no-install-recommends $PKGS
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
