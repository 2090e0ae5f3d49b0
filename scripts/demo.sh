#!/usr/bin/env bash
# multusctl demo: a delegates-mode "pod" with eth0 (bridge + host-local) and net1 (macvlan),
# made by the real `multus` executable in throw-away network namespaces, then removed.
#
# Needs root (network namespaces) and Debian's containernetworking-plugins in /usr/lib/cni.
# Nothing touches the root namespace's interfaces: the "node" is a namespace of its own,
# whose veth end `eth0` is the macvlan master; the plugins run inside it.
#
# Environment: MULTUS (path of the multus executable; default: the repo's .venv), CNI_BIN
# (default /usr/lib/cni).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
MULTUS="${MULTUS:-$repo/.venv/bin/multus}"
CNI_BIN="${CNI_BIN:-/usr/lib/cni}"
prefix="mct-demo-$$"
node="$prefix-node"
pod="$prefix-pod"
cid="demo-$$"
work=""

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local rc=$?
    set +e
    ip netns del "$pod" 2>/dev/null
    ip netns del "$node" 2>/dev/null
    [[ -n "$work" && -d "$work" ]] && rm -rf -- "$work"
    if ip netns list | grep -q "^$prefix-"; then
        printf 'demo: could not remove namespaces %s-*\n' "$prefix" >&2
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $EUID -eq 0 ]] || die "run me as root: network namespaces need it (e.g. sudo $0)"
command -v ip >/dev/null || die "the ip tool (iproute2) is missing"
[[ -x "$MULTUS" ]] || die "no multus executable at $MULTUS (install the package, or set MULTUS)"
for p in bridge macvlan host-local; do
    [[ -x "$CNI_BIN/$p" ]] || die "missing CNI plugin $CNI_BIN/$p (apt-get install containernetworking-plugins)"
done

work="$(mktemp -d /tmp/multusctl-demo.XXXXXX)"
conf="$work/00-multus.conf"

say "node namespace $node with a veth pair; its end eth0 is the macvlan master"
ip netns add "$node"
ip -n "$node" link set lo up
ip -n "$node" link add eth0 type veth peer name uplink0
ip -n "$node" link set eth0 up
ip -n "$node" link set uplink0 up
ip netns add "$pod"
echo "pod namespace: /run/netns/$pod"

cat >"$conf" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "multus-cni-network",
  "type": "multus",
  "cniDir": "$work/multus-cache",
  "binDir": "$CNI_BIN",
  "delegates": [
    {"cniVersion": "1.0.0", "name": "cluster", "type": "bridge", "bridge": "cni0",
     "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "subnet": "10.244.0.0/24", "dataDir": "$work/ipam"}},
    {"cniVersion": "1.0.0", "name": "macvlan-conf", "type": "macvlan", "master": "eth0",
     "mode": "bridge",
     "ipam": {"type": "host-local", "subnet": "192.168.1.0/24",
              "rangeStart": "192.168.1.200", "rangeEnd": "192.168.1.216",
              "dataDir": "$work/ipam"}}
  ]
}
JSON
say "Multus config ($conf)"
cat "$conf"

cni() {  # cni COMMAND: run multus inside the node namespace, as a runtime would
    ip netns exec "$node" env -i PATH="$PATH" \
        CNI_COMMAND="$1" CNI_CONTAINERID="$cid" CNI_NETNS="/run/netns/$pod" \
        CNI_IFNAME=eth0 CNI_PATH="$CNI_BIN" \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo" \
        "$MULTUS" <"$conf"
}

say "multus ADD"
if ! result="$(cni ADD)"; then
    printf '%s\n' "$result" >&2
    die "multus ADD failed"
fi
printf '%s\n' "$result"

say "ip address inside the pod namespace"
ip -n "$pod" address show

for ifname in eth0 net1; do
    ip -n "$pod" link show "$ifname" >/dev/null 2>&1 || die "the pod has no $ifname"
done

say "multus DEL"
if ! out="$(cni DEL)"; then
    printf '%s\n' "$out" >&2
    die "multus DEL failed"
fi
echo "DEL exit status 0"

say "ip address inside the pod namespace after DEL"
ip -n "$pod" address show
left="$(ip -n "$pod" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -vx lo || true)"
[[ -z "$left" ]] || die "interfaces left in the pod after DEL: $left"
echo "only lo is left: eth0 and net1 are gone"

say "cleaning up"
