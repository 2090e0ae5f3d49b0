#!/bin/sh
# Compatibility shim for manifests that still run `command: ["/entrypoint.sh"]`
# (upstream v3.x images). All logic lives in `multusctl entrypoint`; the arguments are
# passed through unchanged, including the `--flag=true|false` forms.
set -eu
exec multusctl entrypoint "$@"
