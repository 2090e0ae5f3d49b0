"""The ``multus`` CNI plugin executable (the runtime starts it for every pod sandbox).

Start-up is on every pod's critical path, so this entry module imports almost nothing:
``-version``, a missing ``CNI_COMMAND`` and ``CNI_COMMAND=VERSION`` are answered here, and
only real CNI commands load the plugin core (``multusctl.bin.thin``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from multusctl import __version__

PROGRAM = "multus"
ABOUT = "meta-plugin that delegates to other CNI plugins"


def version_string() -> str:
    """Upstream's version line shape (LOG-07), with our package version."""
    return f"version:{__version__}, commit:unknown commit, date:unknown date"


def run(argv: list[str], environ: Mapping[str, str]) -> int:
    """Run the plugin with explicit argv and environment; returns the exit status."""
    if argv[1:] in (["-version"], ["-v"], ["--version"]):
        sys.stdout.write(f"{PROGRAM}: {version_string()}\n")
        return 0
    if argv[1:]:
        sys.stderr.write(
            f"flag provided but not defined: {argv[1]}\nUsage of {argv[0]}:\n"
            "  -version\n    \tshow version\n"
        )
        return 2
    command = environ.get("CNI_COMMAND", "")
    if command in ("", "VERSION"):
        from multusctl.cni import version

        if command:
            sys.stdout.write(version.version_json() + "\n")
        else:
            sys.stderr.write(
                f"{ABOUT}\nCNI protocol versions supported: "
                f"{', '.join(version.SUPPORTED_VERSIONS)}\n"
            )
        return 0
    from multusctl.bin import thin

    return thin.run(environ)


def main() -> None:
    sys.exit(run(sys.argv, os.environ))


if __name__ == "__main__":
    main()
