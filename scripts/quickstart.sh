#!/usr/bin/env bash
# The Multus quickstart guide, end to end on this machine, with no cluster to install.
#
# A real etcd + kube-apiserver, a node network namespace with an eth0, the DaemonSet's
# steps (multusctl install, multusctl entrypoint --multus-conf-file=auto), the guide's
# macvlan-conf NetworkAttachmentDefinition and samplepod, the runtime's ADD via cnitool,
# `ip a` in the pod (lo, eth0, net1) and its network-status annotation; then DEL and a
# full clean-up.  The steps are in scripts/quickstart.py.
#
# --thick: the same through the thick plugin (deployments/multus-daemonset-thick-plugin.yml,
# the guide's manifest): the init container's `multusctl install --shim-only` puts
# multus-shim in the node's bin dir, `multusctl daemon` runs inside the node namespace with
# the manifest's daemon config; ADD/DEL go cnitool -> shim -> daemon.  `make demo-thick`
# runs this.  --thick --node-without-python: the node's /usr has no python3, so the shim
# is the image's frozen build (scripts/build-node-binary.sh builds it if not current).
#
# Needs root (network namespaces, a private bind mount), Debian's containernetworking-
# plugins, kubectl, and the binaries of tests/cluster/build.sh.  `make demo` sets all up.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
PY="${PY:-$repo/.venv/bin/python}"
prefix="mct-qs-$$-"
work=""
driver=""

die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local rc=$?
    set +e
    # the driver cleans up after itself; this is the safety net for a hard interruption
    if [[ -n "$driver" ]] && kill -0 "$driver" 2>/dev/null; then
        kill -TERM "$driver" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$driver" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$driver" 2>/dev/null
    fi
    if [[ -n "$work" && -d "$work" ]]; then
        # processes started from the work dir (entrypoint, etcd, kube-apiserver)
        for pid in $(pgrep -f -- "$work" || true); do
            [[ "$pid" != "$$" ]] && kill -TERM "$pid" 2>/dev/null
        done
    fi
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix" || true); do
        ip netns del "$ns" 2>/dev/null
    done
    [[ -n "$work" && -d "$work" ]] && rm -rf -- "$work"
    if ip netns list 2>/dev/null | grep -q "^$prefix"; then
        printf 'quickstart: could not remove namespaces %s*\n' "$prefix" >&2
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $EUID -eq 0 ]] || die "run me as root: network namespaces need it (e.g. sudo $0)"
command -v ip >/dev/null || die "the ip tool (iproute2) is missing"
command -v kubectl >/dev/null || die "kubectl is missing"
[[ -x "$PY" ]] || die "no venv at $PY (run 'make venv')"
for p in bridge macvlan host-local; do
    [[ -x "/usr/lib/cni/$p" ]] || die "missing /usr/lib/cni/$p (apt-get install containernetworking-plugins)"
done
bin_dir="$(bash "$repo/tests/cluster/build.sh" --print-bin-dir)"
for b in kube-apiserver etcd cnitool; do
    [[ -x "$bin_dir/$b" ]] || die "missing $bin_dir/$b: run 'make cluster-bin' (tests/cluster/build.sh)"
done

work="$(mktemp -d /tmp/multusctl-quickstart.XXXXXX)"
"$PY" "$here/quickstart.py" --workdir "$work" --prefix "$prefix" "$@" &
driver=$!
wait "$driver"
