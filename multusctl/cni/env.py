"""The CNI process environment: ``CNI_*`` variables and ``CNI_ARGS`` (stdlib only).

Parsing is pure: callers pass the environment mapping in; nothing here reads
``os.environ``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from multusctl.errors import InvalidEnvironment, MultusError

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC")

#: Which variables each command needs, as skel checks them.
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "GC": ("CNI_PATH",),
    "STATUS": ("CNI_PATH",),
    "VERSION": (),
}

_ID_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")

K8S_KEYS = ("K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID")


class ArgsError(MultusError):
    """``CNI_ARGS`` did not parse (upstream wraps it as code 999)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class K8sArgs:
    """The Kubernetes keys of ``CNI_ARGS``; empty strings when absent."""

    pod_namespace: str = ""
    pod_name: str = ""
    pod_infra_container_id: str = ""
    pod_uid: str = ""

    def triple(self) -> str:
        """``ns/name/uid`` as upstream prints it in error prefixes."""
        return f"{self.pod_namespace}/{self.pod_name}/{self.pod_uid}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CniEnv:
    """Everything the runtime passed through the environment."""

    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: str = ""
    path: tuple[str, ...] = ()
    netns_override: bool = False
    #: ``CNI_ARGS`` split into ordered pairs, unknown keys kept (for delegates).
    arg_pairs: tuple[tuple[str, str], ...] = field(default=())


def split_args(raw: str) -> list[tuple[str, str]]:
    """Split ``CNI_ARGS`` the way delegates see it: ``;``-separated, first ``=`` splits.

    Pairs without ``=`` are dropped (upstream logs and skips them).
    """
    pairs: list[tuple[str, str]] = []
    for item in raw.split(";"):
        if "=" not in item:
            continue
        key, _, value = item.partition("=")
        pairs.append((key, value))
    return pairs


def parse_k8s_args(raw: str) -> K8sArgs:
    """Parse ``CNI_ARGS`` into :class:`K8sArgs` with libcni ``LoadArgs`` strictness."""
    if not raw:
        return K8sArgs()
    known = {"IgnoreUnknown", "IP", *K8S_KEYS}
    values: dict[str, str] = {}
    unknown: list[str] = []
    ignore_unknown = False
    pairs: list[tuple[str, str]] = []
    for item in raw.split(";"):
        kv = item.split("=")
        if len(kv) != 2:
            raise ArgsError(f'ARGS: invalid pair "{item}"')
        pairs.append((kv[0], kv[1]))
    for key, value in pairs:
        if key == "IgnoreUnknown":
            low = value.lower()
            if low in {"1", "true"}:
                ignore_unknown = True
            elif low not in {"0", "false"}:
                raise ArgsError(
                    f'ARGS: error parsing value of pair "{key}={value}": '
                    f"invalid boolean value: {value}"
                )
    for key, value in pairs:
        if key not in known:
            unknown.append(f"{key}={value}")
            continue
        if key == "IP" and value:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ArgsError(
                    f'ARGS: error parsing value of pair "{key}={value}": '
                    f"invalid IP address: {value}"
                ) from None
        values[key] = value
    if unknown and not ignore_unknown:
        quoted = " ".join(f'"{u}"' for u in unknown)
        raise ArgsError(f"ARGS: unknown args [{quoted}]")
    return K8sArgs(
        pod_namespace=values.get("K8S_POD_NAMESPACE", ""),
        pod_name=values.get("K8S_POD_NAME", ""),
        pod_infra_container_id=values.get("K8S_POD_INFRA_CONTAINER_ID", ""),
        pod_uid=values.get("K8S_POD_UID", ""),
    )


def _check_ifname(ifname: str) -> None:
    if not ifname:
        raise InvalidEnvironment("interface name is empty")
    if len(ifname) > 15:
        raise InvalidEnvironment(
            "interface name is too long", "interface name should be less than 16 characters"
        )
    if ifname in {".", ".."}:
        raise InvalidEnvironment("interface name is . or ..")
    for ch in ifname:
        if ch in "/:" or ch.isspace():
            raise InvalidEnvironment(
                "interface name contains / or : or whitespace characters"
            )


def load(environ: Mapping[str, str]) -> CniEnv:
    """Read and validate the CNI environment for the command it names."""
    command = environ.get("CNI_COMMAND", "")
    if not command:
        raise InvalidEnvironment("required env variables [CNI_COMMAND] missing")
    if command not in REQUIRED:
        raise InvalidEnvironment(f"unknown CNI_COMMAND: {command}")
    missing = [key for key in REQUIRED[command] if not environ.get(key)]
    if missing:
        raise InvalidEnvironment(f"required env variables [{','.join(missing)}] missing")
    container_id = environ.get("CNI_CONTAINERID", "")
    if "CNI_CONTAINERID" in REQUIRED[command] and not _ID_RE.match(container_id):
        raise InvalidEnvironment("invalid characters in containerID", container_id)
    ifname = environ.get("CNI_IFNAME", "")
    if "CNI_IFNAME" in REQUIRED[command]:
        _check_ifname(ifname)
    raw_path = environ.get("CNI_PATH", "")
    raw_args = environ.get("CNI_ARGS", "")
    return CniEnv(
        command=command,
        container_id=container_id,
        netns=environ.get("CNI_NETNS", ""),
        ifname=ifname,
        args=raw_args,
        path=tuple(p for p in raw_path.split(":") if p),
        netns_override=environ.get("CNI_NETNS_OVERRIDE", "").lower() in {"1", "true"},
        arg_pairs=tuple(split_args(raw_args)),
    )
