"""CNI results: parsing, version conversion and printing as libcni does it (stdlib only).

Results travel as plain JSON dicts in their wire shape. Three families exist:

* 0.1.0 / 0.2.0: ``ip4`` / ``ip6`` (``ip``, ``gateway``, ``routes``) and ``dns``;
* 0.3.0 / 0.3.1 / 0.4.0: ``interfaces``, ``ips`` (with ``version`` "4"/"6", the
  ``interface`` index, ``address``, ``gateway``), ``routes``, ``dns``;
* 1.0.0 / 1.1.0: as 0.4.0 without ``ips[].version``; 1.1.0 adds interface ``mtu``,
  ``socketPath``, ``pciID`` and route ``mtu``, ``advmss``, ``priority``, ``table``,
  ``scope`` (libcni uses one Go type for both 1.x versions).

The behaviour follows containernetworking/cni v1.3.0 (``pkg/types/{020,040,100}``,
``pkg/types/internal``, ``pkg/types/create``, ``pkg/invoke``). libcni always decodes a
result into its Go struct before converting or printing it, so this module does the
same: unknown keys are dropped, addresses are written in Go's canonical form
(``FD00::0005/64`` becomes ``fd00::5/64``, ``::ffff:10.0.0.1/120`` becomes
``10.0.0.1/24``), zero values of ``omitempty`` fields disappear. The golden cases in
``tests/golden/results`` were produced by libcni itself.

One deliberate difference: an ``ips[].address``, ``ip4.ip`` or ``routes[].dst`` that is
missing is an error here, where libcni would print the string ``<nil>`` in its place.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from multusctl import gojson
from multusctl.cni import version as cniversion
from multusctl.errors import DecodeError, IncompatibleVersion
from multusctl.jsontypes import kind_of

__all__ = [
    "FAMILY_020",
    "FAMILY_040",
    "FAMILY_100",
    "convert",
    "empty_pod_not_found_result",
    "error_json",
    "parse",
    "render",
    "result_version",
]

FAMILY_020: tuple[str, ...] = ("0.1.0", "0.2.0")
FAMILY_040: tuple[str, ...] = ("0.3.0", "0.3.1", "0.4.0")
FAMILY_100: tuple[str, ...] = ("1.0.0", "1.1.0")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_PREFIX_RE = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------- public API


def parse(raw: bytes, conf_version: str = "") -> dict[str, Any]:
    """Decode a plugin's stdout into a normalised result dict.

    Mirrors libcni's ``invoke.ExecPluginWithResult``: a result without a (string,
    non-empty) ``cniVersion`` is taken to be of ``conf_version``, the version of the
    network configuration the plugin was called with (empty: the legacy 0.1.0). A
    plugin printing ``null`` yields an empty result of that version. Raises
    :class:`DecodeError` for anything that is not a JSON object result and
    :class:`IncompatibleVersion` for an unknown result version.
    """
    text = raw.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DecodeError(f"failed to unmarshal raw result: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DecodeError(
            f"failed to unmarshal raw result: expected a JSON object, got {kind_of(data)}"
        )
    declared = data.get("cniVersion")
    if not isinstance(declared, str) or not declared:
        data["cniVersion"] = conf_version or cniversion.DEFAULT
    return convert(data, data["cniVersion"])


def result_version(result: Mapping[str, Any]) -> str:
    """The result's ``cniVersion``; a missing or empty one means the legacy 0.1.0."""
    value = result.get("cniVersion")
    if value is None or value == "":
        return cniversion.DEFAULT
    if not isinstance(value, str):
        raise DecodeError(f"invalid result: cniVersion: expected a string, got {kind_of(value)}")
    return value


def convert(result: Mapping[str, Any], to_version: str) -> dict[str, Any]:
    """Return ``result`` as a result of ``to_version`` (libcni's ``GetAsVersion``).

    The input is decoded as its own version first (so the output is normalised even
    when no conversion is needed). An empty ``to_version`` means 0.1.0, as in libcni.
    Raises :class:`IncompatibleVersion` when libcni has no converter for the pair or
    the conversion loses every address (to 0.1.0/0.2.0), :class:`DecodeError` for a
    malformed result.
    """
    from_version = result_version(result)
    typed = _decode(result, from_version)
    converted = _convert_typed(typed, from_version, to_version or cniversion.DEFAULT)
    return _wire(converted)


def render(result: Mapping[str, Any], indent: int | None = 4) -> str:
    """The text libcni's ``Result.Print()`` writes (no trailing newline).

    0.x results keep Go's struct field order and always print ``dns`` (``{}`` when
    empty); 1.x results go through libcni's custom marshaller, which sorts every key
    alphabetically and leaves ``dns`` out when it is empty. Strings are escaped as Go
    does (``<``, ``>``, ``&`` become ``\\u003c``…; non-ASCII text stays as is).
    ``indent=None`` gives the compact form of ``json.Marshal``.
    """
    return gojson.dumps(convert(result, result_version(result)), indent)


def error_json(code: int, msg: str, details: str = "", cni_version: str = "") -> str:
    """A CNI error object as the skel prints it (4-space indent, no trailing newline).

    Key order ``cniVersion``, ``code``, ``msg``, ``details``. ``details`` is left out
    when empty, as libcni's ``types.Error`` does. libcni never prints ``cniVersion``
    there; the specification requires it from 1.0.0 on, so it is included whenever
    it is known.
    """
    obj: dict[str, Any] = {}
    if cni_version:
        obj["cniVersion"] = cni_version
    obj["code"] = int(code)
    obj["msg"] = msg
    if details:
        obj["details"] = details
    return gojson.dumps(obj, 4)


def empty_pod_not_found_result(ifname: str, netns: str, cni_version: str) -> dict[str, Any]:
    """The result of an ADD for a pod that no longer exists (CORE-07).

    One interface (``ifname`` in ``netns``) and the address ``0.0.0.0/0`` with gateway
    ``0.0.0.0``, no DNS. Upstream v4.2.1 always labels it 1.0.0 (pass that, or an
    empty string); upstream HEAD passes the Multus config's version but keeps the 1.x
    shape. Here an older version gets the shape of that version instead.
    """
    version = cni_version or "1.0.0"
    interface: dict[str, Any] = {"name": ifname}
    if netns:
        interface["sandbox"] = netns
    base = {
        "cniVersion": "1.1.0",
        "interfaces": [interface],
        "ips": [{"address": "0.0.0.0/0", "gateway": "0.0.0.0"}],  # noqa: S104 (not a bind)
    }
    return convert(base, version)


# --------------------------------------------------------------------------- decoding


def _bad(path: str, message: str) -> DecodeError:
    return DecodeError(f"invalid result: {path}: {message}")


def _fields(obj: object, names: tuple[str, ...], path: str) -> dict[str, Any]:
    """Pick the known keys of a JSON object the way Go's decoder matches struct fields.

    Exact names win, other spellings match case-insensitively, later keys overwrite
    earlier ones, unknown keys are ignored, ``null`` counts as absent.
    """
    if not isinstance(obj, Mapping):
        raise _bad(path, f"expected an object, got {kind_of(obj)}")
    folded = {name.lower(): name for name in names}
    picked: dict[str, Any] = {}
    for key, value in obj.items():
        name = key if key in names else folded.get(str(key).lower())
        if name is not None:
            picked[name] = value
    return {k: v for k, v in picked.items() if v is not None}


def _str(value: object, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(path, f"expected a string, got {kind_of(value)}")
    return value


def _int(value: object, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, f"expected an integer, got {kind_of(value)} ({value!r})")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _bad(path, f"integer {value} out of range")
    return value


def _list(value: object, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(path, f"expected an array, got {kind_of(value)}")
    return value


def _str_list(value: object, path: str) -> list[str]:
    return [_str(item, f"{path}[{i}]") for i, item in enumerate(_list(value, path))]


def _ip_text(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Go's ``net.IP.String()``: IPv4-mapped IPv6 addresses print as plain IPv4."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in text:  # Go rejects zones in both ParseIP and ParseCIDR
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _ip(value: object, path: str) -> str:
    """A gateway: Go's ``net.IP`` text form; empty means "none"."""
    text = _str(value, path)
    if not text:
        return ""
    addr = _parse_ip(text)
    if addr is None:
        raise _bad(path, f"invalid IP address: {text}")
    return _ip_text(addr)


def _cidr(value: object, path: str) -> str:
    """An address with prefix length, host bits kept (libcni's ``types.ParseCIDR``)."""
    if value is None:
        raise _bad(path, "missing (an address with prefix length is required)")
    text = _str(value, path)
    addr_text, slash, prefix_text = text.partition("/")
    addr = _parse_ip(addr_text) if slash else None
    valid = addr is not None and _PREFIX_RE.fullmatch(prefix_text) is not None
    if addr is None or not valid or int(prefix_text) > addr.max_prefixlen:
        raise _bad(path, f"invalid CIDR address: {text}")
    prefix = int(prefix_text)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        # Go keeps the last 32 mask bits of an IPv4-mapped address
        prefix = max(prefix - 96, 0)
    return f"{_ip_text(addr)}/{prefix}"


def _is_ipv4(cidr_text: str) -> bool:
    """``IP.To4() != nil`` on a normalised address (IPv4-mapped ones are already IPv4)."""
    return ":" not in cidr_text


def _decode_dns(value: object, path: str) -> dict[str, Any]:
    names = ("nameservers", "domain", "search", "options")
    f = _fields(value if value is not None else {}, names, path)
    dns: dict[str, Any] = {}
    nameservers = _str_list(f.get("nameservers"), f"{path}.nameservers")
    if nameservers:
        dns["nameservers"] = nameservers
    domain = _str(f.get("domain"), f"{path}.domain")
    if domain:
        dns["domain"] = domain
    for key in ("search", "options"):
        items = _str_list(f.get(key), f"{path}.{key}")
        if items:
            dns[key] = items
    return dns


_ROUTE_FIELDS = ("dst", "gw", "mtu", "advmss", "priority", "table", "scope")


def _decode_route(value: object, path: str) -> dict[str, Any]:
    if value is None:
        raise _bad(path, "null route")
    f = _fields(value, _ROUTE_FIELDS, path)
    route: dict[str, Any] = {"dst": _cidr(f.get("dst"), f"{path}.dst")}
    gw = _ip(f.get("gw"), f"{path}.gw")
    if gw:
        route["gw"] = gw
    for key in ("mtu", "advmss", "priority"):  # plain ints: zero is omitted
        number = _int(f.get(key), f"{path}.{key}")
        if number:
            route[key] = number
    for key in ("table", "scope"):  # pointers: zero is kept
        number = _int(f.get(key), f"{path}.{key}")
        if number is not None:
            route[key] = number
    return route


def _decode_routes(value: object, path: str) -> list[dict[str, Any]]:
    return [_decode_route(item, f"{path}[{i}]") for i, item in enumerate(_list(value, path))]


def _decode_020(obj: Mapping[str, Any], version: str) -> dict[str, Any]:
    f = _fields(obj, ("cniVersion", "ip4", "ip6", "dns"), "result")
    typed: dict[str, Any] = {"cniVersion": version, "ip4": None, "ip6": None}
    for key in ("ip4", "ip6"):
        if key in f:
            g = _fields(f[key], ("ip", "gateway", "routes"), key)
            typed[key] = {
                "ip": _cidr(g.get("ip"), f"{key}.ip"),
                "gateway": _ip(g.get("gateway"), f"{key}.gateway"),
                "routes": _decode_routes(g.get("routes"), f"{key}.routes"),
            }
    typed["dns"] = _decode_dns(f.get("dns"), "dns")
    return typed


def _decode_interfaces(value: object, names: tuple[str, ...]) -> list[dict[str, Any]]:
    interfaces = []
    for i, item in enumerate(_list(value, "interfaces")):
        path = f"interfaces[{i}]"
        if item is None:
            raise _bad(path, "null interface")
        f = _fields(item, names, path)
        intf: dict[str, Any] = {"name": _str(f.get("name"), f"{path}.name")}
        for key in names[1:]:
            if key == "mtu":
                mtu = _int(f.get("mtu"), f"{path}.mtu")
                if mtu:
                    intf["mtu"] = mtu
            else:
                text = _str(f.get(key), f"{path}.{key}")
                if text:
                    intf[key] = text
        interfaces.append(intf)
    return interfaces


def _decode_ips(value: object, with_version: bool) -> list[dict[str, Any]]:
    names = (
        ("version", "interface", "address", "gateway")
        if with_version
        else ("interface", "address", "gateway")
    )
    ips = []
    for i, item in enumerate(_list(value, "ips")):
        path = f"ips[{i}]"
        if item is None:
            raise _bad(path, "null IP configuration")
        f = _fields(item, names, path)
        ipc: dict[str, Any] = {}
        if with_version:
            ipc["version"] = _str(f.get("version"), f"{path}.version")
        index = _int(f.get("interface"), f"{path}.interface")
        if index is not None:
            ipc["interface"] = index
        ipc["address"] = _cidr(f.get("address"), f"{path}.address")
        gateway = _ip(f.get("gateway"), f"{path}.gateway")
        if gateway:
            ipc["gateway"] = gateway
        ips.append(ipc)
    return ips


def _decode_040(obj: Mapping[str, Any], version: str) -> dict[str, Any]:
    f = _fields(obj, ("cniVersion", "interfaces", "ips", "routes", "dns"), "result")
    return {
        "cniVersion": version,
        "interfaces": _decode_interfaces(f.get("interfaces"), ("name", "mac", "sandbox")),
        "ips": _decode_ips(f.get("ips"), with_version=True),
        "routes": _decode_routes(f.get("routes"), "routes"),
        "dns": _decode_dns(f.get("dns"), "dns"),
    }


def _decode_100(obj: Mapping[str, Any], version: str) -> dict[str, Any]:
    f = _fields(obj, ("cniVersion", "interfaces", "ips", "routes", "dns"), "result")
    names = ("name", "mac", "mtu", "sandbox", "socketPath", "pciID")
    return {
        "cniVersion": version,
        "interfaces": _decode_interfaces(f.get("interfaces"), names),
        "ips": _decode_ips(f.get("ips"), with_version=False),
        "routes": _decode_routes(f.get("routes"), "routes"),
        "dns": _decode_dns(f.get("dns"), "dns"),
    }


def _decode(result: Mapping[str, Any], version: str) -> dict[str, Any]:
    if not isinstance(result, Mapping):
        raise DecodeError(f"invalid result: expected a JSON object, got {kind_of(result)}")
    if version in FAMILY_020:
        return _decode_020(result, version)
    if version in FAMILY_040:
        return _decode_040(result, version)
    if version in FAMILY_100:
        return _decode_100(result, version)
    raise IncompatibleVersion(f"unsupported CNI result version {json.dumps(version)}")


# --------------------------------------------------------------------------- conversions


def _from_020_to_040(r: dict[str, Any], to: str) -> dict[str, Any]:
    ips: list[dict[str, Any]] = []
    routes: list[dict[str, Any]] = []
    for family, key in (("4", "ip4"), ("6", "ip6")):
        ipc = r[key]
        if ipc is None:
            continue
        entry: dict[str, Any] = {"version": family, "address": ipc["ip"]}
        if ipc["gateway"]:
            entry["gateway"] = ipc["gateway"]
        ips.append(entry)
        routes.extend(dict(route) for route in ipc["routes"])
    return {"cniVersion": to, "interfaces": [], "ips": ips, "routes": routes, "dns": dict(r["dns"])}


def _from_040_to_020(r: dict[str, Any], to: str) -> dict[str, Any]:
    """Keep the first IPv4 and the first IPv6 address (by the ``version`` field)."""
    slots: dict[str, dict[str, Any] | None] = {"4": None, "6": None}
    for ipc in r["ips"]:
        family = ipc["version"]
        if family in slots and slots[family] is None:
            slots[family] = {"ip": ipc["address"], "gateway": ipc.get("gateway", ""), "routes": []}
        if slots["4"] is not None and slots["6"] is not None:
            break
    for route in r["routes"]:
        target = slots["4"] if _is_ipv4(route["dst"]) else slots["6"]
        if target is not None:
            reduced = {"dst": route["dst"]}
            if "gw" in route:
                reduced["gw"] = route["gw"]
            target["routes"].append(reduced)
    if slots["4"] is None and slots["6"] is None:
        raise IncompatibleVersion("cannot convert: no valid IP addresses")
    return {"cniVersion": to, "ip4": slots["4"], "ip6": slots["6"], "dns": dict(r["dns"])}


def _from_040_to_100(r: dict[str, Any], to: str) -> dict[str, Any]:
    return {
        "cniVersion": to,
        "interfaces": [dict(intf) for intf in r["interfaces"]],
        "ips": [{k: v for k, v in ipc.items() if k != "version"} for ipc in r["ips"]],
        "routes": [dict(route) for route in r["routes"]],
        "dns": dict(r["dns"]),
    }


def _from_100_to_040(r: dict[str, Any], to: str) -> dict[str, Any]:
    interfaces = [
        {k: v for k, v in intf.items() if k in ("name", "mac", "sandbox")}
        for intf in r["interfaces"]
    ]
    ips = [{"version": "4" if _is_ipv4(ipc["address"]) else "6", **ipc} for ipc in r["ips"]]
    return {
        "cniVersion": to,
        "interfaces": interfaces,
        "ips": ips,
        "routes": [dict(route) for route in r["routes"]],
        "dns": dict(r["dns"]),
    }


def _relabel(r: dict[str, Any], to: str) -> dict[str, Any]:
    return {**r, "cniVersion": to}


_Step = Callable[[dict[str, Any], str], dict[str, Any]]


def _via(first: _Step, middle: str, second: _Step) -> _Step:
    return lambda r, to: second(first(r, middle), to)


def _converter(from_version: str, to_version: str) -> _Step | None:
    """libcni's converter registry, family by family."""
    table: tuple[tuple[tuple[str, ...], tuple[str, ...], _Step], ...] = (
        (FAMILY_020, FAMILY_020, _relabel),
        (FAMILY_020, FAMILY_040, _from_020_to_040),
        (FAMILY_020, FAMILY_100, _via(_from_020_to_040, "0.4.0", _from_040_to_100)),
        (FAMILY_040, FAMILY_040, _relabel),
        (FAMILY_040, FAMILY_020, _from_040_to_020),
        (FAMILY_040, FAMILY_100, _from_040_to_100),
        (FAMILY_100, FAMILY_100, _relabel),
        (FAMILY_100, FAMILY_040, _from_100_to_040),
        (FAMILY_100, FAMILY_020, _via(_from_100_to_040, "0.4.0", _from_040_to_020)),
    )
    for sources, targets, step in table:
        if from_version in sources and to_version in targets:
            return step
    return None


def _convert_typed(typed: dict[str, Any], from_version: str, to_version: str) -> dict[str, Any]:
    if from_version == to_version:
        return typed
    step = _converter(from_version, to_version)
    if step is None:
        raise IncompatibleVersion(
            f"no converter for CNI result version {from_version} to {to_version}"
        )
    return step(typed, to_version)


# --------------------------------------------------------------------------- output


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_deep(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_deep(v) for v in value]
    return value


def _wire(typed: dict[str, Any]) -> dict[str, Any]:
    """The printed shape: omit empty lists, absent ``ip4``/``ip6``; 1.x sorts keys."""
    version = typed["cniVersion"]
    out: dict[str, Any] = {"cniVersion": version}
    if version in FAMILY_020:
        for key in ("ip4", "ip6"):
            ipc = typed[key]
            if ipc is not None:
                entry: dict[str, Any] = {"ip": ipc["ip"]}
                if ipc["gateway"]:
                    entry["gateway"] = ipc["gateway"]
                if ipc["routes"]:
                    entry["routes"] = ipc["routes"]
                out[key] = entry
        out["dns"] = typed["dns"]
        return out
    for key in ("interfaces", "ips", "routes"):
        if typed[key]:
            out[key] = typed[key]
    if version in FAMILY_040:
        out["dns"] = typed["dns"]  # a struct: Go's omitempty never drops it
        return out
    if typed["dns"]:
        out["dns"] = typed["dns"]
    result: dict[str, Any] = _sorted_deep(out)
    return result


