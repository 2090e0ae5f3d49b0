"""IPAM section checks: host-local, static, whereabouts and dhcp shapes (stdlib only).

What host-local itself refuses (ranges that overlap inside one IPAM section, subnets with
host bits set, subnets too small to allocate from, addresses outside their subnet) is an
error; overlaps between different IPAM sections or different NADs are warnings, because
two networks may share a range on purpose.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from multusctl.nad.findings import Collector, IpRange, join
from multusctl.nad.findings import kind_of as _kind
from multusctl.nad.findings import quote as _q

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Characters that make a plugin ``type`` a path instead of a binary name.
PATH_SEPARATORS = ("/", "\\")


def parse_ip(c: Collector, value: object, path: str, what: str) -> IPAddress | None:
    """Parse an IP address string; report a finding and return None when it is not one."""
    if not isinstance(value, str):
        c.error("ip", path, f"{what} must be a string holding an IP address, got {_kind(value)}")
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        c.error("ip", path, f"{what} {_q(value)} is not an IP address; write e.g. \"10.1.2.3\"")
        return None


def parse_cidr(
    c: Collector, value: object, path: str, what: str
) -> tuple[IPAddress, IPNetwork] | None:
    """Parse ``address/prefix``; returns the address as written and its network."""
    if not isinstance(value, str):
        c.error("cidr", path, f"{what} must be a CIDR string, got {_kind(value)}")
        return None
    if "/" not in value:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            c.error("cidr", path, f"{what} {_q(value)} is not a CIDR; write address/prefix, "
                    "e.g. \"10.1.0.0/24\"")
        else:
            c.error("cidr", path, f"{what} {_q(value)} has no prefix length; write "
                    "address/prefix, e.g. \"10.1.0.0/24\"")
        return None
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        c.error("cidr", path, f"{what} {_q(value)} is not a CIDR; write address/prefix, "
                "e.g. \"10.1.0.0/24\"")
        return None
    return iface.ip, iface.network


def check_ipam(c: Collector, ipam: object, path: str, capabilities: object) -> None:
    """Check one ``ipam`` section at ``path``; pools go to ``c.ranges``."""
    if not isinstance(ipam, dict):
        c.error("ipam", path, f"ipam must be an object, got {_kind(ipam)}; use {{}} for no IPAM")
        return
    ipam_type = ipam.get("type")
    if ipam_type is None or ipam_type == "":
        if any(k != "type" for k in ipam):
            c.warning(
                "ipam", join(path, "type"),
                "ipam has settings but no type, so the plugin skips IPAM and they are ignored; "
                "add \"type\" (e.g. \"host-local\") or remove the ipam section",
            )
        return
    if not isinstance(ipam_type, str):
        c.error("type", join(path, "type"), f"ipam type must be a string, got {_kind(ipam_type)}")
        return
    if any(sep in ipam_type for sep in PATH_SEPARATORS):
        c.error(
            "type", join(path, "type"),
            f"ipam type {_q(ipam_type)} contains a path separator; give only the binary name, "
            "found in the CNI bin dir",
        )
        return
    if ipam_type == "host-local":
        _host_local(c, ipam, path)
    elif ipam_type == "static":
        _static(c, ipam, path, capabilities)
    elif ipam_type == "whereabouts":
        _whereabouts(c, ipam, path)
    # dhcp and other IPAM plugins: nothing beyond the type is required.


# --- host-local -------------------------------------------------------------------------


class _Range:
    __slots__ = ("end", "network", "path", "start")

    def __init__(self, path: str, network: IPNetwork, start: IPAddress, end: IPAddress) -> None:
        self.path = path
        self.network = network
        self.start = start
        self.end = end


def _host_local(c: Collector, ipam: dict[str, Any], path: str) -> None:
    range_sets: list[tuple[str, list[_Range]]] = []
    subnet = ipam.get("subnet")
    if subnet not in (None, ""):
        r = _host_local_range(c, ipam, path)
        range_sets.append((path, [r] if r else []))
    ranges = ipam.get("ranges")
    ranges_path = join(path, "ranges")
    if ranges is not None:
        if not isinstance(ranges, list):
            c.error(
                "ipam", ranges_path,
                f"ranges must be a list of range sets (lists of ranges), got {_kind(ranges)}",
            )
            ranges = []
        for i, rs in enumerate(ranges):
            rs_path = join(ranges_path, i)
            if not isinstance(rs, list):
                c.error(
                    "ipam", rs_path,
                    f"each range set must be a list of ranges, got {_kind(rs)}; "
                    "write ranges as [[{\"subnet\": \"10.1.0.0/24\"}]]",
                )
                continue
            if not rs:
                c.error("ipam", rs_path, "empty range set; host-local refuses it, add a range")
                continue
            parsed: list[_Range] = []
            for j, item in enumerate(rs):
                r_path = join(rs_path, j)
                if not isinstance(item, dict):
                    c.error("ipam", r_path, f"a range must be an object, got {_kind(item)}")
                    continue
                r = _host_local_range(c, item, r_path)
                if r:
                    parsed.append(r)
            versions = {r.network.version for r in parsed}
            if len(versions) > 1:
                c.error(
                    "ipam-range", rs_path,
                    "range set mixes IPv4 and IPv6 ranges; host-local refuses it, put each "
                    "family in its own range set",
                )
            range_sets.append((rs_path, parsed))
    if subnet in (None, "") and not ranges:
        c.error(
            "ipam", path,
            "host-local needs \"subnet\" or \"ranges\"; add e.g. "
            "\"ranges\": [[{\"subnet\": \"10.1.0.0/24\"}]]",
        )
    _overlaps_within(c, [r for _, rs in range_sets for r in rs])
    for _, rs in range_sets:
        for r in rs:
            c.ranges.append(
                IpRange(c.label, r.path, r.network.version, int(r.start), int(r.end),
                        f"{r.start}-{r.end}")
            )
    _routes(c, ipam.get("routes"), join(path, "routes"))


def _host_local_range(c: Collector, obj: dict[str, Any], path: str) -> _Range | None:
    subnet_path = join(path, "subnet")
    if "subnet" not in obj or obj["subnet"] in (None, ""):
        c.error("ipam-range", subnet_path, "a host-local range needs a \"subnet\" (CIDR)")
        return None
    parsed = parse_cidr(c, obj["subnet"], subnet_path, "subnet")
    if parsed is None:
        return None
    addr, net = parsed
    if addr != net.network_address:
        c.error(
            "ipam-range", subnet_path,
            f"subnet {_q(obj['subnet'])} has host bits set and host-local refuses it; "
            f"write \"{net}\"",
        )
        return None
    if net.prefixlen > net.max_prefixlen - 2:
        c.error(
            "ipam-range", subnet_path,
            f"subnet {net} is too small to allocate from (host-local needs a prefix of at most "
            f"/{net.max_prefixlen - 2}); use a larger subnet",
        )
        return None
    start_key, end_key = "rangeStart", "rangeEnd"
    start = net.network_address + 1
    end = net.broadcast_address - 1 if net.version == 4 else net.broadcast_address
    if obj.get(start_key) not in (None, ""):
        ip = _ip_in(c, obj[start_key], join(path, start_key), start_key, net)
        if ip is None:
            return None
        start = ip
    if obj.get(end_key) not in (None, ""):
        ip = _ip_in(c, obj[end_key], join(path, end_key), end_key, net)
        if ip is None:
            return None
        end = ip
    if int(start) > int(end):
        c.error(
            "ipam-range", join(path, start_key),
            f"rangeStart {start} is after rangeEnd {end}; swap them or fix the range",
        )
        return None
    if obj.get("gateway") not in (None, ""):
        _ip_in(c, obj["gateway"], join(path, "gateway"), "gateway", net)
    return _Range(path, net, start, end)


def _ip_in(c: Collector, value: object, path: str, what: str, net: IPNetwork) -> IPAddress | None:
    ip = parse_ip(c, value, path, what)
    if ip is None:
        return None
    if ip.version != net.version or ip not in net:
        c.error(
            "ipam-range", path,
            f"{what} {ip} is outside its subnet {net}; pick an address inside {net} or widen "
            "the subnet",
        )
        return None
    return ip


def _overlaps_within(c: Collector, ranges: list[_Range]) -> None:
    for i, a in enumerate(ranges):
        for b in ranges[i + 1:]:
            same_family = a.network.version == b.network.version
            if same_family and int(a.start) <= int(b.end) and int(b.start) <= int(a.end):
                c.error(
                    "ipam-overlap", b.path,
                    f"range {b.start}-{b.end} overlaps {a.start}-{a.end} at {a.path}; host-local "
                    "refuses overlapping ranges, make them disjoint",
                )


def _routes(c: Collector, routes: object, path: str) -> None:
    if routes is None:
        return
    if not isinstance(routes, list):
        c.error("route", path, f"routes must be a list of {{\"dst\", \"gw\"}}, got {_kind(routes)}")
        return
    for i, route in enumerate(routes):
        r_path = join(path, i)
        if not isinstance(route, dict):
            c.error("route", r_path, f"a route must be an object, got {_kind(route)}")
            continue
        if route.get("dst") in (None, ""):
            c.error("route", join(r_path, "dst"), "a route needs \"dst\" (e.g. \"0.0.0.0/0\")")
            continue
        dst_path = join(r_path, "dst")
        parsed = parse_cidr(c, route["dst"], dst_path, "route dst")
        if parsed is None:
            continue
        addr, net = parsed
        if addr != net.network_address:
            c.error(
                "route", dst_path,
                f"route dst {_q(route['dst'])} has host bits set and the kernel rejects it; "
                f"write \"{net}\"",
            )
        gw = route.get("gw")
        if gw not in (None, ""):
            ip = parse_ip(c, gw, join(r_path, "gw"), "route gw")
            if ip is not None and ip.version != net.version:
                c.error(
                    "route", join(r_path, "gw"),
                    f"route gw {ip} is IPv{ip.version} but dst {net} is IPv{net.version}; "
                    "use a gateway of the same family",
                )


# --- static -------------------------------------------------------------------------------


def _static(c: Collector, ipam: dict[str, Any], path: str, capabilities: object) -> None:
    addresses = ipam.get("addresses")
    a_path = join(path, "addresses")
    if addresses in (None, []):
        asks_ips = isinstance(capabilities, dict) and capabilities.get("ips") is True
        if not asks_ips:
            c.warning(
                "ipam", a_path,
                "static IPAM without addresses assigns nothing unless pods request \"ips\"; "
                "add addresses or declare capabilities {\"ips\": true}",
            )
    elif not isinstance(addresses, list):
        c.error("ipam", a_path, f"addresses must be a list, got {_kind(addresses)}")
    else:
        for i, entry in enumerate(addresses):
            e_path = join(a_path, i)
            if not isinstance(entry, dict):
                c.error("ipam", e_path, f"an address entry must be an object, got {_kind(entry)}")
                continue
            if entry.get("address") in (None, ""):
                c.error(
                    "ipam", join(e_path, "address"),
                    "an address entry needs \"address\" in CIDR form (e.g. \"10.1.1.5/24\")",
                )
                continue
            parsed = parse_cidr(c, entry["address"], join(e_path, "address"), "address")
            if parsed is None:
                continue
            if entry.get("gateway") not in (None, ""):
                _ip_in(c, entry["gateway"], join(e_path, "gateway"), "gateway", parsed[1])
    _routes(c, ipam.get("routes"), join(path, "routes"))


# --- whereabouts --------------------------------------------------------------------------


def _whereabouts(c: Collector, ipam: dict[str, Any], path: str) -> None:
    found = False
    if ipam.get("range") not in (None, ""):
        found = True
        _whereabouts_range(c, ipam, path)
    ip_ranges = ipam.get("ipRanges")
    if ip_ranges not in (None, []):
        found = True
        r_path = join(path, "ipRanges")
        if not isinstance(ip_ranges, list):
            c.error("ipam", r_path, f"ipRanges must be a list, got {_kind(ip_ranges)}")
        else:
            for i, item in enumerate(ip_ranges):
                if not isinstance(item, dict) or item.get("range") in (None, ""):
                    c.error(
                        "ipam", join(r_path, i),
                        "each ipRanges entry must be an object with \"range\" (CIDR)",
                    )
                    continue
                _whereabouts_range(c, item, join(r_path, i))
    if not found:
        c.error(
            "ipam", join(path, "range"),
            "whereabouts needs \"range\" (CIDR, e.g. \"10.1.0.0/24\") or \"ipRanges\"",
        )
    if ipam.get("gateway") not in (None, ""):
        parse_ip(c, ipam["gateway"], join(path, "gateway"), "gateway")
    _routes(c, ipam.get("routes"), join(path, "routes"))


def _whereabouts_range(c: Collector, obj: dict[str, Any], path: str) -> None:
    r_path = join(path, "range")
    text = obj["range"]
    if not isinstance(text, str):
        c.error("cidr", r_path, f"range must be a CIDR string, got {_kind(text)}")
        return
    start: IPAddress | None = None
    end: IPAddress | None = None
    cidr = text
    if "-" in text.split("/", 1)[0]:
        # "first-last/prefix" form
        first, _, rest = text.partition("-")
        last, slash, prefix = rest.partition("/")
        if not slash:
            c.error("cidr", r_path, f"range {_q(text)} is neither a CIDR nor first-last/prefix; "
                    "write e.g. \"10.1.0.0/24\"")
            return
        cidr = f"{first}/{prefix}"
        start = parse_ip(c, first, r_path, "range start")
        end = parse_ip(c, last, r_path, "range end")
        if start is None or end is None:
            return
    parsed = parse_cidr(c, cidr, r_path, "range")
    if parsed is None:
        return
    addr, net = parsed
    small = net.num_addresses <= 2
    if start is None:
        start = addr if addr != net.network_address or small else net.network_address + 1
    if end is None:
        end = net.broadcast_address - 1 if net.version == 4 and not small else net.broadcast_address
    if obj.get("range_start") not in (None, ""):
        ip = _ip_in(c, obj["range_start"], join(path, "range_start"), "range_start", net)
        if ip is None:
            return
        start = ip
    if obj.get("range_end") not in (None, ""):
        ip = _ip_in(c, obj["range_end"], join(path, "range_end"), "range_end", net)
        if ip is None:
            return
        end = ip
    if start.version != net.version or start not in net or end.version != net.version \
            or end not in net:
        c.error("ipam-range", r_path, f"range {_q(text)} ends outside its own prefix {net}")
        return
    if int(start) > int(end):
        c.error(
            "ipam-range", r_path,
            f"range start {start} is after range end {end}; swap them or fix the range",
        )
        return
    excludes = obj.get("exclude")
    if excludes is not None:
        e_path = join(path, "exclude")
        if not isinstance(excludes, list):
            c.error("ipam", e_path, f"exclude must be a list of CIDRs, got {_kind(excludes)}")
        else:
            for i, ex in enumerate(excludes):
                ex_parsed = parse_cidr(c, ex, join(e_path, i), "exclude")
                if ex_parsed is not None and (
                    ex_parsed[1].version != net.version or not ex_parsed[1].overlaps(net)
                ):
                    c.warning(
                        "ipam-range", join(e_path, i),
                        f"exclude {ex} is outside range {net} and has no effect; remove it or "
                        "fix the prefix",
                    )
    c.ranges.append(IpRange(c.label, r_path, net.version, int(start), int(end), f"{start}-{end}"))
