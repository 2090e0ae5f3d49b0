#!/usr/bin/env bash
# Build the self-contained `multus` node executable (PyInstaller --onedir).
#
# The node runs CNI plugins outside any container, with whatever Python the host has (or
# none), so the frozen build carries its own interpreter and the stdlib-only plugin code.
# --onedir, not --onefile: a one-file build unpacks itself on every run (about 200 ms of a
# pod's start-up). See docs/node-install.md for the layouts and their start-up times.
#
# Output: <out>/multus/multus (the executable) and <out>/multus/_internal/ (interpreter,
# stdlib, shared libraries).  <out>/multus/.build-key holds the cache key: a hash of
# multusctl/**/*.py (without cli/, installer/, daemon/), this script and the interpreter/PyInstaller versions.  An existing
# build with the same key is reused unless --force is given.  The last stdout line is the
# executable's path.
#
# Usage: scripts/build-node-binary.sh [--out DIR] [--python PY] [--force] [--print-key]
#   --out DIR     output directory (default: build/node)
#   --python PY   interpreter with PyInstaller and the package's runtime deps
#                 (default: .venv/bin/python; PyInstaller is pip-installed into it if absent)
#   --force       rebuild even when the key matches
#   --print-key   print the cache key and exit
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/build/node"
py="$repo/.venv/bin/python"
force=0
print_key=0
PYINSTALLER_SPEC=${PYINSTALLER_SPEC:-"pyinstaller>=6.10,<7"}

while (($#)); do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --out=*) out=${1#--out=}; shift ;;
        --python) py=$2; shift 2 ;;
        --python=*) py=${1#--python=}; shift ;;
        --force) force=1; shift ;;
        --print-key) print_key=1; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-node-binary.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

[[ -x "$py" ]] || { echo "build-node-binary.sh: no interpreter at $py (run 'make venv')" >&2; exit 1; }

pyi_version() { "$py" -c 'import PyInstaller; print(PyInstaller.__version__)' 2>/dev/null || true; }

build_key() {
    {
        # the bundle's sources: the CLI, installer and daemon are excluded from it below
        (cd "$repo" && find multusctl -name '*.py' -not -path 'multusctl/cli/*' \
            -not -path 'multusctl/installer/*' -not -path 'multusctl/daemon/*' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum)
        sha256sum "$repo/scripts/build-node-binary.sh" | cut -d' ' -f1
        "$py" -c 'import sys, platform; print(sys.version, platform.machine())'
        pyi_version
    } | sha256sum | cut -c1-16
}

if ((print_key)); then
    build_key
    exit 0
fi

if [[ -z "$(pyi_version)" ]]; then
    echo "build-node-binary.sh: installing $PYINSTALLER_SPEC into $("$py" -c 'import sys; print(sys.prefix)')" >&2
    "$py" -m pip install -q "$PYINSTALLER_SPEC"
fi

key=$(build_key)
dist="$out/multus"
if ((!force)) && [[ -x "$dist/multus" && "$(cat "$dist/.build-key" 2>/dev/null)" == "$key" ]]; then
    echo "build-node-binary.sh: up to date (key $key)" >&2
    echo "$dist/multus"
    exit 0
fi

mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The entry script: exactly what the `multus` console script runs.
cat >"$work/multus_entry.py" <<'EOF'
from multusctl.bin.multus import main

main()
EOF

# Modules the plugin imports lazily (PyInstaller only follows top-level imports):
# Kubernetes mode (REST client, YAML kubeconfigs with the C loader when built), NAD checks.
# Device-plugin NADs (resourceName) reach the kubelet's PodResources API through grpc.
hidden=(
    multusctl.kube.api multusctl.kube.rest multusctl.kube.podresources
    multusctl.nad multusctl.nad.validate multusctl.nad.findings multusctl.nad.ipam
    multusctl.nad.plugins
    yaml gzip grpc google.protobuf
)
collect=(multusctl.bin multusctl.cni multusctl.plugin multusctl.nad multusctl.kube._podresources)
if "$py" -c 'import yaml._yaml' 2>/dev/null; then hidden+=(yaml._yaml); fi
# Never on the plugin's path; keep them (and their dependency trees) out of the bundle.
exclude=(
    typer click rich kubernetes watchdog pyroute2 urllib3 requests grpc_tools
    multusctl.cli multusctl.daemon multusctl.installer multusctl.kube.official
    multusctl.kube.memory
    tkinter unittest pydoc_data test lib2to3 idlelib ensurepip distutils setuptools pip
)
args=(--noconfirm --clean --onedir --name multus --log-level WARN --strip
      --distpath "$work/dist" --workpath "$work/build" --specpath "$work"
      --paths "$repo")
for m in "${hidden[@]}"; do args+=(--hidden-import "$m"); done
for m in "${collect[@]}"; do args+=(--collect-submodules "$m"); done
for m in "${exclude[@]}"; do args+=(--exclude-module "$m"); done

echo "build-node-binary.sh: PyInstaller $(pyi_version) --onedir (key $key)" >&2
(cd "$work" && "$py" -m PyInstaller "${args[@]}" "$work/multus_entry.py") >&2

# Smoke-check the fresh build before publishing it.
version=$("$work/dist/multus/multus" -version)
[[ "$version" == multus:* ]] || { echo "build-node-binary.sh: built binary answered '$version'" >&2; exit 1; }
echo "$key" >"$work/dist/multus/.build-key"

# Publish: replace the previous build in one rename.
rm -rf "$out/.old-multus"
[[ -e "$dist" ]] && mv "$dist" "$out/.old-multus"
mv "$work/dist/multus" "$dist"
rm -rf "$out/.old-multus"
echo "build-node-binary.sh: $version -> $dist ($(du -sh "$dist" | cut -f1))" >&2
echo "$dist/multus"
