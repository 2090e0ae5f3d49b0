#!/usr/bin/env bash
# Build a self-contained node executable (PyInstaller --onedir): `multus` (thin plugin,
# the default target) or `multus-shim` (thick plugin's CNI executable).
#
# The node runs CNI plugins outside any container, with whatever Python the host has (or
# none), so the frozen build carries its own interpreter and the stdlib-only plugin code.
# --onedir, not --onefile: a one-file build unpacks itself on every run (about 200 ms of a
# pod's start-up). See docs/node-install.md for the layouts and their start-up times.
#
# Output: <out>/<target>/<target> (the executable) and <out>/<target>/_internal/
# (interpreter, stdlib, shared libraries).  <out>/<target>/.build-key holds the cache key:
# a hash of the bundled sources (multus: multusctl/**/*.py without cli/, installer/,
# daemon/; multus-shim: multusctl/bin/shim.py and the two package __init__ files it
# imports), this script and the interpreter/PyInstaller versions.  An existing build with
# the same key is reused unless --force is given.  The last stdout line is the executable's
# path.
#
# Usage: scripts/build-node-binary.sh [--target T] [--out DIR] [--python PY] [--force]
#                                     [--print-key]
#   --target T    multus (default) or multus-shim
#   --out DIR     output directory (default: build/node)
#   --python PY   interpreter with PyInstaller and the package's runtime deps
#                 (default: .venv/bin/python; PyInstaller is pip-installed into it if absent)
#   --force       rebuild even when the key matches
#   --print-key   print the cache key and exit
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/build/node"
target=multus
py="$repo/.venv/bin/python"
force=0
print_key=0
PYINSTALLER_SPEC=${PYINSTALLER_SPEC:-"pyinstaller>=6.10,<7"}

while (($#)); do
    case "$1" in
        --target) target=$2; shift 2 ;;
        --target=*) target=${1#--target=}; shift ;;
        --out) out=$2; shift 2 ;;
        --out=*) out=${1#--out=}; shift ;;
        --python) py=$2; shift 2 ;;
        --python=*) py=${1#--python=}; shift ;;
        --force) force=1; shift ;;
        --print-key) print_key=1; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-node-binary.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

case "$target" in
    multus|multus-shim) ;;
    *) echo "build-node-binary.sh: --target must be multus or multus-shim, not '$target'" >&2
       exit 2 ;;
esac
[[ -x "$py" ]] || { echo "build-node-binary.sh: no interpreter at $py (run 'make venv')" >&2; exit 1; }

pyi_version() { "$py" -c 'import PyInstaller; print(PyInstaller.__version__)' 2>/dev/null || true; }

# The sources each bundle is made of (NUL-separated), relative to the repo.
bundle_sources() {
    if [[ "$target" == multus-shim ]]; then
        # shim.py imports only the stdlib and these two __init__ files (checked by
        # tests/integration/test_shim_daemon.py::test_shim_imports_only_the_standard_library)
        printf '%s\0' multusctl/__init__.py multusctl/bin/__init__.py multusctl/bin/shim.py
    else
        # the CLI, installer and daemon are excluded from the bundle below
        (cd "$repo" && find multusctl -name '*.py' -not -path 'multusctl/cli/*' \
            -not -path 'multusctl/installer/*' -not -path 'multusctl/daemon/*' -print0 \
            | LC_ALL=C sort -z)
    fi
}

build_key() {
    {
        echo "$target"
        (cd "$repo" && bundle_sources | xargs -0 sha256sum)
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
dist="$out/$target"
if ((!force)) && [[ -x "$dist/$target" && "$(cat "$dist/.build-key" 2>/dev/null)" == "$key" ]]; then
    echo "build-node-binary.sh: up to date (key $key)" >&2
    echo "$dist/$target"
    exit 0
fi

mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Never on a node executable's path; keep them (and their dependency trees) out of the bundle.
exclude=(
    typer click rich kubernetes watchdog pyroute2 urllib3 requests grpc_tools
    multusctl.cli multusctl.daemon multusctl.installer multusctl.kube.official
    multusctl.kube.memory
    tkinter unittest pydoc_data test lib2to3 idlelib ensurepip distutils setuptools pip
)
hidden=()
collect=()
if [[ "$target" == multus-shim ]]; then
    # The entry script: exactly what the `multus-shim` console script runs.  The shim is
    # stdlib-only and imports nothing lazily, so PyInstaller's analysis finds everything.
    cat >"$work/entry.py" <<'EOF'
from multusctl.bin.shim import main

main()
EOF
    # OpenSSL (4.6 MB) comes only through hashlib/ssl, which the shim never imports
    # (random, reached by PyInstaller's stdlib analysis, has its own _sha512).
    exclude+=(yaml grpc google prometheus_client multusctl.kube multusctl.plugin
              multusctl.nad multusctl.cni multusctl.config _hashlib ssl _ssl)
else
    # The entry script: exactly what the `multus` console script runs.
    cat >"$work/entry.py" <<'EOF'
from multusctl.bin.multus import main

main()
EOF
    # Modules the plugin imports lazily (PyInstaller only follows top-level imports):
    # Kubernetes mode (REST client, YAML kubeconfigs with the C loader when built), NAD
    # checks.  Device-plugin NADs (resourceName) reach the kubelet's PodResources API
    # through grpc.
    hidden=(
        multusctl.kube.api multusctl.kube.rest multusctl.kube.podresources
        multusctl.nad multusctl.nad.validate multusctl.nad.findings multusctl.nad.ipam
        multusctl.nad.plugins
        yaml gzip grpc google.protobuf
    )
    collect=(multusctl.bin multusctl.cni multusctl.plugin multusctl.nad
             multusctl.kube._podresources)
    if "$py" -c 'import yaml._yaml' 2>/dev/null; then hidden+=(yaml._yaml); fi
fi
args=(--noconfirm --clean --onedir --name "$target" --log-level WARN --strip
      --distpath "$work/dist" --workpath "$work/build" --specpath "$work"
      --paths "$repo")
for m in "${hidden[@]}"; do args+=(--hidden-import "$m"); done
for m in "${collect[@]}"; do args+=(--collect-submodules "$m"); done
for m in "${exclude[@]}"; do args+=(--exclude-module "$m"); done

echo "build-node-binary.sh: $target: PyInstaller $(pyi_version) --onedir (key $key)" >&2
(cd "$work" && "$py" -m PyInstaller "${args[@]}" "$work/entry.py") >&2

# Smoke-check the fresh build before publishing it.
version=$("$work/dist/$target/$target" -version)
[[ "$version" == "$target: version:"* ]] || {
    echo "build-node-binary.sh: built $target answered '$version'" >&2; exit 1; }
echo "$key" >"$work/dist/$target/.build-key"

# Publish: replace the previous build in one rename.
rm -rf "$out/.old-$target"
[[ -e "$dist" ]] && mv "$dist" "$out/.old-$target"
mv "$work/dist/$target" "$dist"
rm -rf "$out/.old-$target"
echo "build-node-binary.sh: $version -> $dist ($(du -sh "$dist" | cut -f1))" >&2
echo "$dist/$target"
