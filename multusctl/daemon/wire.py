"""The shim ↔ daemon wire format (THK-08/09), wire-compatible with upstream's Go shim.

Request (``POST /cni`` or ``/delegate``)::

    {"env": {"CNI_COMMAND": "ADD", ...}, "config": "<base64 of the CNI stdin>",
     "interfaceAttributes": {"ips": [...], "mac": "...", "cni-args": {...}}}

Response to ADD: ``{"Result": <the result as CNI 1.0.0>}``. multusctl adds
``"printedResult"``: the text our shim prints, already converted to the version of the
request's config (the Go shim ignores unknown keys). Other successes have an empty body.

Pure: bytes in, values out.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multusctl.cni import result as cniresult
from multusctl.errors import DecodeError, MultusError

COMMANDS = ("ADD", "DEL", "CHECK", "GC", "STATUS")


class RequestError(MultusError):
    """The request cannot be decoded; answered 400 with a plain-text body, no prefix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WireRequest:
    """A decoded request body."""

    env: dict[str, str]
    config: bytes
    interface_attributes: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CmdArgs:
    """What the server extracts from ``env`` (upstream's ``extractCniData``)."""

    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = "eth0"
    args: str = ""
    path: tuple[str, ...] = ()
    pod_namespace: str = ""
    pod_name: str = ""
    pod_uid: str = ""
    arg_pairs: tuple[tuple[str, str], ...] = field(default=())

    def printed(self) -> str:
        """upstream ``printCmdArgs``: the prefix of logged and text-format errors."""
        return (
            f'ContainerID:"{self.container_id}" Netns:"{self.netns}" IfName:"{self.ifname}" '
            f'Args:"{self.args}" Path:""'
        )


def decode_request(body: bytes) -> WireRequest:
    """Parse a request body; ``config`` is base64 (a Go ``[]byte``)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"could not decode the CNI request: {exc}") from None
    if not isinstance(doc, dict):
        raise RequestError("could not decode the CNI request: expected a JSON object")
    raw_env = doc.get("env") or {}
    if not isinstance(raw_env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw_env.items()
    ):
        raise RequestError("could not decode the CNI request: env: expected a string map")
    raw_config = doc.get("config") or ""
    if not isinstance(raw_config, str):
        raise RequestError("could not decode the CNI request: config: expected base64")
    try:
        config = base64.b64decode(raw_config, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(f"could not decode the CNI request: config: {exc}") from None
    attrs = doc.get("interfaceAttributes")
    return WireRequest(
        env={k.strip(): v for k, v in raw_env.items()},
        config=config,
        interface_attributes=attrs if isinstance(attrs, dict) else None,
    )


def encode_request(
    env: Mapping[str, str], config: bytes, interface_attributes: Mapping[str, Any] | None = None
) -> bytes:
    """The request our tests (and a Go-compatible client) send."""
    doc: dict[str, Any] = {"env": dict(env), "config": base64.b64encode(config).decode()}
    if interface_attributes is not None:
        doc["interfaceAttributes"] = dict(interface_attributes)
    return json.dumps(doc).encode()


def split_cni_args(raw: str) -> list[tuple[str, str]]:
    """``K=V;K=V`` with the value taken after the *first* ``=`` (BUG-14: upstream splits on
    every ``=`` and rejects values such as base64 padding). Empty items are skipped."""
    pairs: list[tuple[str, str]] = []
    for item in raw.split(";"):
        if not item:
            continue
        if "=" not in item:
            raise RequestError(f"invalid CNI_ARG '{item}'")
        key, _, value = item.partition("=")
        pairs.append((key, value))
    return pairs


def extract(env: Mapping[str, str]) -> CmdArgs:
    """THK-09 with upstream's texts. GC and STATUS need no pod (fixed at upstream HEAD)."""
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise RequestError(
            "could not extract the CNI command args: unexpected or missing CNI_COMMAND"
        )
    if command not in COMMANDS:
        raise RequestError(f"unknown cmd type: {command}")
    pod_scoped = command in ("ADD", "DEL", "CHECK")
    for key in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_ARGS"):
        if pod_scoped and key not in env:
            raise RequestError(f"could not extract the CNI command args: missing {key}")
    raw_args = env.get("CNI_ARGS", "")
    pairs = split_cni_args(raw_args)
    values = dict(pairs)
    namespace = values.get("K8S_POD_NAMESPACE")
    name = values.get("K8S_POD_NAME")
    if pod_scoped:
        if namespace is None:
            raise RequestError(
                "could not extract the kubernetes runtime args: missing K8S_POD_NAMESPACE"
            )
        if name is None:
            raise RequestError(
                "could not extract the kubernetes runtime args: missing K8S_POD_NAME"
            )
        if not namespace or not name:
            raise RequestError(
                f"required CNI variable missing. pod name: {name}; pod namespace: {namespace}"
            )
    return CmdArgs(
        command=command,
        container_id=env.get("CNI_CONTAINERID", ""),
        netns=env.get("CNI_NETNS", ""),
        ifname=env.get("CNI_IFNAME") or "eth0",
        args=raw_args,
        path=tuple(p for p in env.get("CNI_PATH", "").split(":") if p),
        pod_namespace=namespace or "",
        pod_name=name or "",
        pod_uid=values.get("K8S_POD_UID", ""),
        arg_pairs=tuple(pairs),
    )


def with_pod_uid(args: CmdArgs, uid: str) -> CmdArgs:
    """``args`` with a recovered ``K8S_POD_UID`` added to CNI_ARGS (and its pairs)."""
    pairs = (*args.arg_pairs, ("K8S_POD_UID", uid))
    return CmdArgs(
        command=args.command,
        container_id=args.container_id,
        netns=args.netns,
        ifname=args.ifname,
        args=";".join(f"{k}={v}" for k, v in pairs),
        path=args.path,
        pod_namespace=args.pod_namespace,
        pod_name=args.pod_name,
        pod_uid=uid,
        arg_pairs=pairs,
    )


def add_response(result: Mapping[str, Any], request_config: bytes) -> bytes:
    """``{"Result": <1.0.0>, "printedResult": "<text in the shim config's version>"}``.

    The 1.0.0 form is what the Go shim expects; the printed form goes through the same
    1.0.0 hop, so both shims print the same bytes.
    """
    try:
        as_100 = cniresult.convert(result, "1.0.0")
    except MultusError as exc:
        raise MultusError(f"failed to generate the CNI result: {exc}") from None
    version = _config_version(request_config) or "1.0.0"
    try:
        printed = cniresult.render(cniresult.convert(as_100, version))
    except MultusError as exc:
        raise MultusError(f"failed to convert the result to {version}: {exc}") from None
    return json.dumps({"Result": as_100, "printedResult": printed}).encode()


def _config_version(config: bytes) -> str:
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError):
        return ""
    version = doc.get("cniVersion") if isinstance(doc, dict) else None
    return version if isinstance(version, str) else ""


def error_body(exc: MultusError) -> bytes:
    """HEAD-06: a typed CNI error crosses the socket as ``{"code","msg","details"}``."""
    doc: dict[str, Any] = {"code": int(exc.cni_code), "msg": exc.msg}
    if exc.details:
        doc["details"] = exc.details
    return json.dumps(doc).encode()


__all__ = [
    "CmdArgs",
    "DecodeError",
    "RequestError",
    "WireRequest",
    "add_response",
    "decode_request",
    "encode_request",
    "error_body",
    "extract",
    "split_cni_args",
    "with_pod_uid",
]
