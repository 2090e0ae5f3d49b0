"""CNI specification versions: the supported list and comparisons (stdlib only)."""

from __future__ import annotations

import json

from multusctl.errors import IncompatibleVersion

SUPPORTED_VERSIONS: tuple[str, ...] = (
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
)
CURRENT = "1.1.0"
#: What a missing ``cniVersion`` means, as in libcni (``version.Legacy``).
DEFAULT = "0.1.0"


def parse(version: str) -> tuple[int, int, int]:
    """Parse ``MAJOR.MINOR.PATCH``; an empty string is the legacy 0.1.0."""
    if not version:
        version = DEFAULT
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise IncompatibleVersion(
            f"invalid version {version!r}: the version is not in the form MAJOR.MINOR.PATCH"
        )
    return int(parts[0]), int(parts[1]), int(parts[2])


def ge(version: str, other: str) -> bool:
    """``version >= other`` by semantic version order."""
    return parse(version) >= parse(other)


def is_supported(version: str) -> bool:
    return (version or DEFAULT) in SUPPORTED_VERSIONS


def version_json() -> str:
    """What ``CNI_COMMAND=VERSION`` prints (compact, as skel prints it)."""
    return json.dumps(
        {"cniVersion": CURRENT, "supportedVersions": list(SUPPORTED_VERSIONS)},
        separators=(",", ":"),
    )
