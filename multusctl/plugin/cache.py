"""The scratch delegate cache: ``<cniDir>/<containerID>``, so DEL works without the API.

The file is a JSON array with one element per delegate, in the shape upstream Multus
writes (``Conf``/``ConfList``/``Name``/``ifnameRequest``/…/``Bytes``), so a node switched
between upstream and multusctl can still DEL pods the other one added. Keys multusctl needs
beyond upstream's live under ``multusctl`` (upstream ignores unknown keys).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from multusctl import fsutil
from multusctl.errors import CniCode, MultusError
from multusctl.plugin.delegates import Delegate

_STANDARD_CONF_KEYS = ("cniVersion", "name", "type", "capabilities", "ipam", "dns")


def path_for(cni_dir: str, container_id: str) -> Path:
    return Path(cni_dir) / container_id


def _element(delegate: Delegate) -> dict[str, Any]:
    data = json.loads(delegate.raw)
    conf: dict[str, Any] = {}
    conf_list: dict[str, Any] = {}
    if isinstance(data, dict) and data.get("type"):
        conf = {k: data[k] for k in _STANDARD_CONF_KEYS if k in data}
    elif isinstance(data, dict):
        conf_list = {
            k: data[k]
            for k in ("cniVersion", "name", "disableCheck", "disableGC", "plugins")
            if k in data
        }
    element: dict[str, Any] = {
        "Conf": conf,
        "ConfList": conf_list,
        "Name": delegate.name,
        "ifnameRequest": delegate.ifname_request,
        "macRequest": delegate.mac_request,
        "infinibandGUIDRequest": delegate.infiniband_guid_request,
        "ipRequest": list(delegate.ip_request),
        "IsFilterV4Gateway": delegate.filter_v4_gateway,
        "IsFilterV6Gateway": delegate.filter_v6_gateway,
        "deviceID": delegate.device_id,
        "resourceName": delegate.resource_name,
        "Bytes": base64.b64encode(delegate.raw).decode(),
        "multusctl": {
            "master": delegate.master,
            "portMappings": [dict(p) for p in delegate.port_mappings or ()],
            "bandwidth": dict(delegate.bandwidth or {}),
        },
    }
    if delegate.default_route is not None:
        element["default-route"] = list(delegate.default_route)
    return element


def render(delegates: Sequence[Delegate]) -> bytes:
    """The cache file's bytes for ``delegates`` (pure)."""
    return json.dumps([_element(d) for d in delegates]).encode()


def save(cni_dir: str, container_id: str, delegates: Sequence[Delegate]) -> None:
    """Write the cache atomically (dir 0700, file 0600)."""
    try:
        os.makedirs(cni_dir, mode=0o700, exist_ok=True)
        fsutil.atomic_write(
            path_for(cni_dir, container_id), render(delegates), mode=0o600, durable=False
        )
    except OSError as exc:
        raise MultusError(f"error saving the delegates: {exc}", code=CniCode.IO_FAILURE) from None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse(raw: bytes) -> list[Delegate]:
    """Read cache bytes back into delegates; element 0 is the master. Raises on bad data."""
    data = json.loads(raw)
    if not isinstance(data, list) or not data:
        raise ValueError("the cache holds no delegates")
    delegates: list[Delegate] = []
    for idx, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("Bytes"), str):
            raise ValueError(f"cache element {idx} has no config bytes")
        ours = item.get("multusctl") if isinstance(item.get("multusctl"), dict) else {}
        assert isinstance(ours, dict)  # noqa: S101 - narrowed above
        route = item.get("default-route")
        delegates.append(
            Delegate(
                name=_str(item.get("Name")),
                raw=base64.b64decode(item["Bytes"]),
                master=idx == 0,
                ifname_request=_str(item.get("ifnameRequest")),
                mac_request=_str(item.get("macRequest")),
                ip_request=tuple(x for x in item.get("ipRequest") or [] if isinstance(x, str)),
                infiniband_guid_request=_str(item.get("infinibandGUIDRequest")),
                device_id=_str(item.get("deviceID")),
                resource_name=_str(item.get("resourceName")),
                port_mappings=tuple(ours.get("portMappings") or ()) or None,
                bandwidth=ours.get("bandwidth") or None,
                default_route=tuple(route) if isinstance(route, list) else None,
                filter_v4_gateway=item.get("IsFilterV4Gateway") is True,
                filter_v6_gateway=item.get("IsFilterV6Gateway") is True,
            )
        )
    return delegates


def load(cni_dir: str, container_id: str) -> list[Delegate] | None:
    """The cached delegates, or None when there is no cache file."""
    try:
        raw = path_for(cni_dir, container_id).read_bytes()
    except FileNotFoundError:
        return None
    return parse(raw)


def remove(cni_dir: str, container_id: str) -> None:
    fsutil.remove_quietly(path_for(cni_dir, container_id))
