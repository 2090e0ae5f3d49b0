"""The CNI skel: validate the environment and config, dispatch, and speak on stdout.

stdout carries exactly one JSON document (a result, VERSION output or a CNI error), and
nothing else. Everything else goes to the stderr writer or the log.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from multusctl.cni import env as cnienv
from multusctl.cni import result as cniresult
from multusctl.cni import version as cniversion
from multusctl.errors import CniCode, DecodeError, IncompatibleVersion, InvalidConfig, MultusError

ABOUT = "meta-plugin that delegates to other CNI plugins"

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")

Writer = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Handlers:
    """The plugin's command implementations. Each gets the parsed env and the raw stdin."""

    add: Callable[[cnienv.CniEnv, bytes], Mapping[str, Any]]
    delete: Callable[[cnienv.CniEnv, bytes], None]
    check: Callable[[cnienv.CniEnv, bytes], None]
    status: Callable[[cnienv.CniEnv, bytes], None]
    gc: Callable[[cnienv.CniEnv, bytes], None]


def validate_config(stdin: bytes, command: str) -> dict[str, Any]:
    """skel's own checks of the network config: JSON, name, cniVersion for the command."""
    try:
        data = json.loads(stdin)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"error unmarshall network config: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError("error unmarshall network config: expected a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidConfig("missing network name")
    if not _NAME_RE.match(name):
        raise InvalidConfig("invalid characters found in network name", name)
    version = data.get("cniVersion", "")
    if not isinstance(version, str):
        raise DecodeError("error unmarshall network config: cniVersion must be a string")
    if not cniversion.is_supported(version):
        supported = " ".join(f'"{v}"' for v in cniversion.SUPPORTED_VERSIONS)
        raise IncompatibleVersion(
            "incompatible CNI versions", f'config is "{version}", plugin supports [{supported}]'
        )
    minimum = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}.get(command)
    if minimum and not cniversion.ge(version or cniversion.DEFAULT, minimum):
        raise IncompatibleVersion(f"config version does not allow {command}")
    return data


def _same_netns(netns: str) -> bool:
    try:
        mine = os.stat("/proc/self/ns/net")
        theirs = os.stat(netns)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def run(
    environ: Mapping[str, str],
    read_stdin: Callable[[], bytes],
    out: Writer,
    err: Writer,
    handlers: Handlers,
    *,
    on_unexpected: Callable[[BaseException], None] | None = None,
) -> int:
    """Run one CNI invocation; return the process exit status."""
    if not environ.get("CNI_COMMAND"):
        err(f"{ABOUT}\nCNI protocol versions supported: "
            f"{', '.join(cniversion.SUPPORTED_VERSIONS)}\n")
        return 0
    cni_version = ""
    try:
        if environ["CNI_COMMAND"] == "VERSION":
            out(cniversion.version_json() + "\n")
            return 0
        parsed = cnienv.load(environ)
        try:
            stdin = read_stdin()
        except OSError as exc:
            raise MultusError(f"error reading from stdin: {exc}", code=CniCode.IO_FAILURE) from None
        data = validate_config(stdin, parsed.command)
        version = data.get("cniVersion", "")
        cni_version = version if isinstance(version, str) else ""
        if parsed.command == "ADD":
            result = handlers.add(parsed, stdin)
            _check_netns(parsed)
            out(cniresult.render(result) + "\n")
        elif parsed.command == "DEL":
            handlers.delete(parsed, stdin)
            _check_netns(parsed)
        elif parsed.command == "CHECK":
            handlers.check(parsed, stdin)
        elif parsed.command == "STATUS":
            handlers.status(parsed, stdin)
        elif parsed.command == "GC":
            handlers.gc(parsed, stdin)
    except MultusError as exc:
        out(cniresult.error_json(exc.cni_code, exc.msg, exc.details, cni_version) + "\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - the boundary: a bug becomes CNI error 999
        if on_unexpected is not None:
            on_unexpected(exc)
        else:
            err("".join(traceback.format_exception(exc)))
        message = f"internal error: {exc}"
        out(cniresult.error_json(CniCode.INTERNAL, message, "", cni_version) + "\n")
        return 1
    return 0


def _check_netns(parsed: cnienv.CniEnv) -> None:
    if parsed.netns and not parsed.netns_override and _same_netns(parsed.netns):
        raise MultusError(
            "plugin's netns and netns from CNI_NETNS should not be the same", code=8
        )
