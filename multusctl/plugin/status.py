"""The ``k8s.v1.cni.cncf.io/network-status`` annotation (ANN-08), stdlib only.

:func:`entries_for` turns one delegate's ADD result into status entries the way
nad-client's ``CreateNetworkStatuses`` does (the code upstream Multus v4.2.1 calls);
:func:`render` writes the annotation value byte for byte as upstream does (each entry
``json.MarshalIndent(entry, "", "    ")``, joined with ``,`` inside ``[...]``).

The rules, after converting the result to CNI 1.0.0:

* no interface at all: no entry (BUG-23: a 0.1.0/0.2.0 result never has interfaces);
* exactly one interface: one entry; ``interface``/``mac``/``mtu`` come from it only if it
  has a ``sandbox``; ``ips`` are all addresses of the result; ``default`` is the
  master flag;
* two or more interfaces: one entry per sandbox interface, in order; each address goes
  to the entry of the interface its ``interface`` index names (an index naming a host
  interface or nothing drops it), addresses without an index go to the last entry;
  ``gateway`` and ``dns`` are copied to every entry; for the master, ``default`` goes
  to the interface named by the first address that has both a gateway and an
  interface index, else to the first sandbox interface;
* ``ips`` carry no prefix length; ``gateway`` lists the ``gw`` of every route whose
  destination address is ``0.0.0.0`` or ``::`` (any prefix length), and a default route
  without ``gw`` shows as Go's ``<nil>``;
* key order ``name, interface, ips, mac, mtu, default, dns, device-info, gateway``;
  empty values are left out except ``name`` and ``dns`` (``{}`` when empty).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from multusctl import gojson
from multusctl.cni import result as cniresult
from multusctl.errors import DecodeError
from multusctl.plugin import devinfo

__all__ = ["entries_for", "render", "skip_status"]

_DNS_KEYS = ("nameservers", "domain", "search", "options")
_ZERO_V4 = ipaddress.IPv4Address(0)
_ZERO_V6 = ipaddress.IPv6Address(0)


def skip_status(pod_namespace: str, system_namespaces: Collection[str]) -> bool:
    """True when no network-status should be written for a pod in ``pod_namespace``.

    Difference from upstream (BUG-01, upstream issue #1205): Multus v4.2.1 compares the
    pod *name* (``K8S_POD_NAME``) with ``systemNamespaces``, so the skip practically
    never happens and pods in ``kube-system`` get the annotation. We compare the pod's
    *namespace*, which is what the option means and how ``defaultNetworks`` are
    skipped. Consequence: pods in a system namespace get no network-status annotation.
    """
    return pod_namespace in system_namespaces


def entries_for(
    delegate_name: str,
    master: bool,
    result: Mapping[str, Any],
    device_info: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The status entries of one delegate (see the module docstring for the rules).

    ``delegate_name`` is ``<namespace>/<nad>`` for NADs and the config ``name``
    otherwise; ``device_info`` is the attachment's devinfo document, if any (``{}``
    still yields ``"device-info": {}``). Raises :class:`DecodeError` for a result or
    device info that cannot be read.
    """
    converted = cniresult.convert(result, "1.0.0")
    dev = _device_info(device_info)
    interfaces: list[dict[str, Any]] = converted.get("interfaces") or []
    ips: list[dict[str, Any]] = converted.get("ips") or []
    dns = {k: converted["dns"][k] for k in _DNS_KEYS if (converted.get("dns") or {}).get(k)}
    gateways = [
        route.get("gw") or "<nil>"
        for route in converted.get("routes") or []
        if _is_default_route(route)
    ]
    if len(interfaces) == 1:
        entry: dict[str, Any] = {"name": delegate_name, "default": master}
        for intf in interfaces:
            if intf.get("sandbox"):
                entry.update(
                    interface=intf["name"], mac=intf.get("mac", ""), mtu=intf.get("mtu", 0)
                )
        entry.update(ips=[_address(ip) for ip in ips], dns=dns, gateway=gateways)
        entry["device-info"] = dev
        return [_shape(entry)]

    gw_index = -1
    if master:
        gw_index = next(
            (ip["interface"] for ip in ips if ip.get("gateway") and "interface" in ip), -1
        )
    entries: list[dict[str, Any]] = []
    position: dict[int, int] = {}  # result interface index -> entries index
    found_first = set_default = False
    for index, intf in enumerate(interfaces):
        if not intf.get("sandbox"):
            continue
        is_default = False
        if master and index == gw_index and not set_default:
            is_default = set_default = True
        if master and gw_index == -1 and not found_first:
            is_default = found_first = True
        position[index] = len(entries)
        entries.append(
            {
                "name": delegate_name,
                "interface": intf["name"],
                "ips": [],
                "mac": intf.get("mac", ""),
                "mtu": intf.get("mtu", 0),
                "default": is_default,
                "dns": dict(dns),
                "device-info": dev,
                "gateway": list(gateways),
            }
        )
    for ip in ips:
        if "interface" in ip:
            target = position.get(ip["interface"])
            if target is not None:
                entries[target]["ips"].append(_address(ip))
        elif entries:
            entries[-1]["ips"].append(_address(ip))
    return [_shape(e) for e in entries]


def render(entries: Sequence[Mapping[str, Any]]) -> str:
    """The annotation value: ``[`` + entries as Go's 4-space ``MarshalIndent`` + ``]``.

    Strings are escaped as Go's encoder does (``<``, ``>``, ``&`` become ``\\u003c``,
    ``\\u003e``, ``\\u0026``; non-ASCII text stays as is). Entries are put in
    upstream's shape first (key order, empty values left out), so hand-made entries
    render the same way.
    """
    return "[" + ",".join(gojson.dumps(_shape(entry), 4) for entry in entries) + "]"


# --------------------------------------------------------------------------- helpers


def _address(ip: Mapping[str, Any]) -> str:
    """``ipconfig.Address.IP.String()``: the (already canonical) address, no prefix."""
    return str(ip["address"]).split("/", 1)[0]


def _is_default_route(route: Mapping[str, Any]) -> bool:
    """nad-client's ``isDefaultRoute``: no destination, or a destination address of zero.

    The prefix length does not matter (``0.0.0.0/8`` counts); libcni keeps the host
    bits of ``dst``, so ``0.0.0.1/0`` does not count.
    """
    dst = str(route.get("dst") or "")
    if not dst:
        return True
    try:
        addr = ipaddress.ip_address(dst.split("/", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr in (_ZERO_V4, _ZERO_V6)


def _device_info(device_info: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if device_info is None:
        return None
    try:
        return devinfo.normalize(dict(device_info))
    except ValueError as exc:
        raise DecodeError(f"invalid device-info: {exc}") from None


def _shape(entry: Mapping[str, Any]) -> dict[str, Any]:
    """nad-client's ``NetworkStatus`` as marshalled: field order, ``omitempty`` rules."""
    out: dict[str, Any] = {"name": str(entry.get("name", ""))}
    for key in ("interface", "ips", "mac", "mtu", "default"):
        if entry.get(key):
            out[key] = entry[key]
    dns = entry.get("dns") or {}
    out["dns"] = {k: dns[k] for k in _DNS_KEYS if dns.get(k)}
    if entry.get("device-info") is not None:
        out["device-info"] = entry["device-info"]
    if entry.get("gateway"):
        out["gateway"] = entry["gateway"]
    return out
