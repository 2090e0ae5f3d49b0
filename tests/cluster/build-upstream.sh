#!/usr/bin/env bash
# Build upstream Multus (Go) for side-by-side comparisons: multus (thin plugin),
# multus-daemon and multus-shim (thick), from the module proxy (see the note on
# `go install` below).
#
# The pin is UPSTREAM_MULTUS_VERSION below (the newest v4.2.x the proxy served when it was
# set; v4.2.5+ answered 403 then).  Output, never committed:
#   ${MULTUSCTL_TEST_CACHE:-$HOME/.cache/multusctl-test}/upstream/<version>-<hash>/bin/
# The hash covers the version and the build flags, so the build is redone only when the pin
# or the flags change.  The bin directory path is printed on the last line.
#
# Usage: tests/cluster/build-upstream.sh [--print-bin-dir]
#   --print-bin-dir   print where the binaries go (built or not) and exit
set -euo pipefail

UPSTREAM_MULTUS_VERSION=${UPSTREAM_MULTUS_VERSION:-v4.2.4}
module=gopkg.in/k8snetworkplumbingwg/multus-cni.v4
binaries=(multus multus-daemon multus-shim)

GO=${GO:-}
if [[ -z "$GO" ]]; then
    if command -v go >/dev/null 2>&1; then GO=$(command -v go); else GO=/usr/local/go/bin/go; fi
fi

# Build settings; part of the cache key.  CGO off like upstream's release images.
export CGO_ENABLED=0
flags=(-trimpath "-ldflags=-s -w")

key=$(echo "$module@$UPSTREAM_MULTUS_VERSION ${binaries[*]} CGO_ENABLED=$CGO_ENABLED ${flags[*]}" \
    | sha256sum | cut -c1-12)
cache_root=${MULTUSCTL_TEST_CACHE:-$HOME/.cache/multusctl-test}
out="$cache_root/upstream/$UPSTREAM_MULTUS_VERSION-$key"
bin="$out/bin"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
    echo "$bin"
    exit 0
fi

if [[ -f "$out/.complete" ]]; then
    ok=1
    for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || ok=0; done
    if (( ok )); then
        echo "build-upstream.sh: up to date ($(cat "$out/.complete"))" >&2
        echo "$bin"
        exit 0
    fi
fi

[[ -x "$GO" ]] || { echo "build-upstream.sh: Go toolchain not found (set GO=/path/to/go)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s)
echo "build-upstream.sh: $("$GO" version); $module@$UPSTREAM_MULTUS_VERSION" >&2
# `go install <pkg>@<version>` would be the one-liner, but it looks up deprecations in the
# proxy's version list, which the proxy refuses (403) here.  Building from the downloaded
# module is equivalent: the same module is the main module, with its own go.mod and go.sum.
src=$(cd "$tmp" && GOFLAGS= "$GO" mod download -json "$module@$UPSTREAM_MULTUS_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d "$src" ]] || { echo "build-upstream.sh: go mod download gave no source dir" >&2; exit 1; }
pkgs=()
for b in "${binaries[@]}"; do pkgs+=("./cmd/$b"); done
(cd "$src" && GOFLAGS= "$GO" build -mod=readonly "${flags[@]}" -o "$tmp/" "${pkgs[@]}")
for b in "${binaries[@]}"; do
    [[ -x "$tmp/$b" ]] || { echo "build-upstream.sh: $b was not built" >&2; exit 1; }
done

rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
elapsed=$(( $(date +%s) - start ))
echo "$module@$UPSTREAM_MULTUS_VERSION built $(date -u +%Y-%m-%dT%H:%M:%SZ) in ${elapsed}s" \
    > "$out/.complete"
echo "build-upstream.sh: done in ${elapsed}s" >&2
echo "$bin"
