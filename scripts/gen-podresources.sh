#!/bin/sh
# Regenerate the protobuf module for the kubelet PodResources v1 API.
#
# Needs grpcio-tools in the venv (a generation-time tool only; the runtime needs grpcio and
# protobuf):   .venv/bin/pip install grpcio-tools
# Run from anywhere:   sh scripts/gen-podresources.sh
#
# Output (committed): multusctl/kube/_podresources/podresources_v1_pb2.py and its .pyi.
# No *_pb2_grpc.py is generated: multusctl.kube.podresources calls the one method by its
# path ("/v1.PodResourcesLister/List"), which keeps the code typed and the module small.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-"$root/.venv/bin/python"}
out="$root/multusctl/kube/_podresources"
"$python" -m grpc_tools.protoc \
    -I "$out" \
    --python_out="$out" \
    --pyi_out="$out" \
    "$out/podresources_v1.proto"
# Generated code is not ours to lint; mypy reads the .pyi, whose bare `Mapping` it tolerates.
py="$out/podresources_v1_pb2.py"
pyi="$out/podresources_v1_pb2.pyi"
{ printf '# ruff: noqa\n'; cat "$py"; } > "$py.tmp" && mv "$py.tmp" "$py"
{ printf '# ruff: noqa\n# mypy: disable-error-code="type-arg"\n'; cat "$pyi"; } > "$pyi.tmp" && mv "$pyi.tmp" "$pyi"
echo "generated: $out/podresources_v1_pb2.py(.pyi)"
