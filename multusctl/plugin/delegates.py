"""Delegates: what Multus will call, in which order, with which interface and runtime config.

Pure functions from values to values: no I/O here.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from multusctl.cni import invoke
from multusctl.cni.env import K8sArgs
from multusctl.errors import InvalidConfig

#: Capability keys Multus fills per attachment (CORE-10).
CAPABILITY_KEYS = (
    "portMappings",
    "bandwidth",
    "ips",
    "mac",
    "infinibandGUID",
    "deviceID",
    "CNIDeviceInfoFile",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delegate:
    """One network to attach: the raw delegate config plus the per-attachment requests."""

    name: str
    """Delegate name: ``<ns>/<nad>`` for NADs, the CNI config ``name`` otherwise."""
    raw: bytes
    """The delegate's config bytes, exactly as they will be handed to libcni."""
    master: bool = False
    ifname_request: str = ""
    mac_request: str = ""
    ip_request: tuple[str, ...] = ()
    infiniband_guid_request: str = ""
    device_id: str = ""
    resource_name: str = ""
    port_mappings: tuple[Mapping[str, Any], ...] | None = None
    bandwidth: Mapping[str, Any] | None = None
    default_route: tuple[str, ...] | None = None
    filter_v4_gateway: bool = False
    filter_v6_gateway: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def network(self) -> invoke.NetworkList:
        return invoke.load_network(self.raw)


def from_config(raw: bytes, *, name: str = "", master: bool = False) -> Delegate:
    """A delegate from a raw CNI config; its name defaults to the config's ``name``."""
    net = invoke.load_network(raw)
    return Delegate(name=name or net.name, raw=raw, master=master)


def ifname_for(delegate: Delegate, index: int, runtime_ifname: str) -> str:
    """CORE-09: an explicit request wins, the master gets CNI_IFNAME, others ``net<index>``."""
    if delegate.ifname_request:
        return delegate.ifname_request
    if delegate.master:
        return runtime_ifname
    return f"net{index}"


def delegate_args(
    k8s: K8sArgs,
    env_pairs: Sequence[tuple[str, str]],
    delegate: Delegate,
) -> tuple[tuple[str, str], ...]:
    """CNI_ARGS for a delegate: the K8S_* keys, the runtime's own pairs, MAC=/IP= requests.

    Upstream appends the runtime's pairs even when the same key and value are already
    present, so plugins see ``K8S_POD_NAME`` twice; we keep one copy when the values agree.
    """
    pairs: list[list[str]] = [
        ["IgnoreUnknown", "true"],
        ["K8S_POD_NAMESPACE", k8s.pod_namespace],
        ["K8S_POD_NAME", k8s.pod_name],
        ["K8S_POD_INFRA_CONTAINER_ID", k8s.pod_infra_container_id],
        ["K8S_POD_UID", k8s.pod_uid],
    ]
    for key, value in env_pairs:
        existing = next((p for p in pairs if p[0] == key), None)
        if existing is None:
            pairs.append([key, value])
        elif not existing[1]:
            existing[1] = value
        elif existing[1] != value and key != "IgnoreUnknown":
            pairs.append([key, value])
    if delegate.mac_request:
        pairs.append(["MAC", delegate.mac_request])
    if delegate.ip_request:
        pairs.append(["IP", ",".join(delegate.ip_request)])
    return tuple((k, v) for k, v in pairs)


def device_info_path(
    delegate_name: str,
    container_id: str,
    ifname: str,
    *,
    base: str = "/var/run/k8s.cni.cncf.io/devinfo",
) -> str:
    """nad-client's CNIDeviceInfoFile path (every ``/`` of the file name becomes ``-``).

    ``base`` is the devinfo directory (``multusctl.plugin.devinfo.DEFAULT_BASE``).
    """
    name = f"{delegate_name}-{container_id}_{ifname}".replace("/", "-")
    return f"{base.rstrip('/')}/cni/{name}"


def capability_args(
    delegate: Delegate,
    runtime_config: Mapping[str, Any],
    *,
    container_id: str,
    ifname: str,
) -> dict[str, Any]:
    """CORE-10: what each delegate may receive as ``runtimeConfig`` capability args.

    The cluster network (master) gets the runtime's own ``runtimeConfig`` (kubelet's
    portMappings, bandwidth, …). Other attachments get only what the pod requested for
    them; kubelet's values describe the pod's primary network, not the extra ones.
    """
    merged: dict[str, Any] = {}
    if delegate.master:
        merged = {k: v for k, v in runtime_config.items() if v not in (None, "", [], {})}
    else:
        if delegate.port_mappings:
            merged["portMappings"] = [dict(p) for p in delegate.port_mappings]
        if delegate.bandwidth:
            merged["bandwidth"] = dict(delegate.bandwidth)
        if delegate.ip_request:
            merged["ips"] = list(delegate.ip_request)
        if delegate.mac_request:
            merged["mac"] = delegate.mac_request
        if delegate.infiniband_guid_request:
            merged["infinibandGUID"] = delegate.infiniband_guid_request
        if delegate.device_id:
            merged["deviceID"] = delegate.device_id
    if merged.get("deviceID"):
        merged["CNIDeviceInfoFile"] = device_info_path(delegate.name, container_id, ifname)
    return merged


def runtime_conf(
    delegate: Delegate,
    index: int,
    *,
    container_id: str,
    netns: str,
    runtime_ifname: str,
    k8s: K8sArgs,
    env_pairs: Sequence[tuple[str, str]],
    runtime_config: Mapping[str, Any],
) -> invoke.RuntimeConf:
    """Everything libcni needs to run ``delegate`` as the ``index``-th attachment."""
    ifname = ifname_for(delegate, index, runtime_ifname)
    return invoke.RuntimeConf(
        container_id=container_id,
        netns=netns,
        ifname=ifname,
        args=delegate_args(k8s, env_pairs, delegate),
        capability_args=capability_args(
            delegate, runtime_config, container_id=container_id, ifname=ifname
        ),
    )


def validate_requests(delegate: Delegate) -> None:
    """The deprecated MAC=/IP= args must parse (upstream checks them before ADD)."""
    if delegate.mac_request and not is_mac(delegate.mac_request):
        raise InvalidConfig(f'DelegateAdd: failed to parse mac address "{delegate.mac_request}"')
    for ip in delegate.ip_request:
        try:
            if "/" in ip:
                ipaddress.ip_interface(ip)
            else:
                ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidConfig(f'DelegateAdd: failed to parse IP address "{ip}"') from None


def is_mac(text: str) -> bool:
    """Go ``net.ParseMAC``: 6, 8 or 20 octets; ``:``/``-`` pairs or ``.`` groups of four."""
    if "." in text:
        groups = text.split(".")
        if not all(len(g) == 4 and _hex(g) for g in groups):
            return False
        return len(groups) * 2 in {6, 8, 20}
    for sep in (":", "-"):
        if sep in text:
            octets = text.split(sep)
            return len(octets) in {6, 8, 20} and all(len(o) == 2 and _hex(o) for o in octets)
    return False


def _hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def with_cni_version(raw: bytes, cni_version: str) -> bytes:
    """Back-fill an empty ``cniVersion`` of a conflist delegate without re-shaping it."""
    data = json.loads(raw)
    if isinstance(data, dict) and not data.get("cniVersion") and cni_version:
        data["cniVersion"] = cni_version
        return json.dumps(data).encode()
    return raw


def mark_master(delegates: Sequence[Delegate]) -> list[Delegate]:
    """Element 0 is the master plugin (cluster network); the rest are not."""
    return [replace(d, master=(i == 0)) for i, d in enumerate(delegates)]
