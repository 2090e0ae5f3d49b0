"""IPAM section checks: host-local, static, whereabouts and dhcp shapes (stdlib only).

What host-local itself refuses (ranges that overlap inside one IPAM section, subnets with
host bits set, subnets too small to allocate from, addresses outside their subnet) is an
error; overlaps between different IPAM sections or different NADs are warnings, because
two networks may share a range on purpose.
"""

from __future__ import annotations

from typing import Any

from multusctl.jsontypes import kind_of as _kind
from multusctl.nad import addr
from multusctl.nad.addr import Addr, Net
from multusctl.nad.findings import Collector, IpRange, join
from multusctl.nad.findings import quote as _q

#: Characters that make a plugin ``type`` a path instead of a binary name.
PATH_SEPARATORS = ("/", "\\")


def parse_ip(c: Collector, value: object, path: str, what: str) -> Addr | None:
    """Parse an IP address string; report a finding and return None when it is not one."""
    if not isinstance(value, str):
        c.error("ip", path, f"{what} must be a string holding an IP address, got {_kind(value)}")
        return None
    ip = addr.parse_ip(value)
    if ip is None:
        c.error("ip", path, f"{what} {_q(value)} is not an IP address; write e.g. \"10.1.2.3\"")
    return ip


def parse_cidr(c: Collector, value: object, path: str, what: str) -> tuple[Addr, Net] | None:
    """Parse ``address/prefix``; returns the address as written and its network."""
    if not isinstance(value, str):
        c.error("cidr", path, f"{what} must be a CIDR string, got {_kind(value)}")
        return None
    parsed = addr.parse_cidr(value)
    if parsed is None:
        if "/" not in value and addr.parse_ip(value) is not None:
            c.error("cidr", path, f"{what} {_q(value)} has no prefix length; write "
                    "address/prefix, e.g. \"10.1.0.0/24\"")
        else:
            c.error("cidr", path, f"{what} {_q(value)} is not a CIDR; write address/prefix, "
                    "e.g. \"10.1.0.0/24\"")
    return parsed


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
    __slots__ = ("end", "net", "path", "start")

    def __init__(self, path: str, net: Net, start: int, end: int) -> None:
        self.path = path
        self.net = net
        self.start = start
        self.end = end

    def text(self) -> str:
        return f"{addr.fmt(self.net.version, self.start)}-{addr.fmt(self.net.version, self.end)}"


def _host_local(c: Collector, ipam: dict[str, Any], path: str) -> None:
    parsed_all: list[_Range] = []
    subnet = ipam.get("subnet")
    if subnet not in (None, ""):
        r = _host_local_range(c, ipam, path)
        if r:
            parsed_all.append(r)
    ranges = ipam.get("ranges")
    if ranges is not None:
        ranges_path = join(path, "ranges")
        if not isinstance(ranges, list):
            c.error(
                "ipam", ranges_path,
                f"ranges must be a list of range sets (lists of ranges), got {_kind(ranges)}",
            )
            ranges = []
        for i, rs in enumerate(ranges):
            if not isinstance(rs, list):
                c.error(
                    "ipam", join(ranges_path, i),
                    f"each range set must be a list of ranges, got {_kind(rs)}; "
                    "write ranges as [[{\"subnet\": \"10.1.0.0/24\"}]]",
                )
                continue
            if not rs:
                c.error("ipam", join(ranges_path, i),
                        "empty range set; host-local refuses it, add a range")
                continue
            rs_path = join(ranges_path, i)
            parsed: list[_Range] = []
            for j, item in enumerate(rs):
                if not isinstance(item, dict):
                    c.error("ipam", join(rs_path, j),
                            f"a range must be an object, got {_kind(item)}")
                    continue
                r = _host_local_range(c, item, join(rs_path, j))
                if r:
                    parsed.append(r)
            if len({r.net.version for r in parsed}) > 1:
                c.error(
                    "ipam-range", rs_path,
                    "range set mixes IPv4 and IPv6 ranges; host-local refuses it, put each "
                    "family in its own range set",
                )
            parsed_all.extend(parsed)
    if subnet in (None, "") and not ranges:
        c.error(
            "ipam", path,
            "host-local needs \"subnet\" or \"ranges\"; add e.g. "
            "\"ranges\": [[{\"subnet\": \"10.1.0.0/24\"}]]",
        )
    if len(parsed_all) > 1:
        _overlaps_within(c, parsed_all)
    for r in parsed_all:
        c.ranges.append(IpRange(c.label, r.path, r.net.version, r.start, r.end))
    if "routes" in ipam:
        _routes(c, ipam["routes"], join(path, "routes"))


def _host_local_range(c: Collector, obj: dict[str, Any], path: str) -> _Range | None:
    subnet = obj.get("subnet")
    if subnet is None or subnet == "":
        c.error("ipam-range", join(path, "subnet"), "a host-local range needs a \"subnet\" (CIDR)")
        return None
    parsed = parse_cidr(c, subnet, join(path, "subnet"), "subnet")
    if parsed is None:
        return None
    ip, net = parsed
    if ip.value != net.first:
        c.error(
            "ipam-range", join(path, "subnet"),
            f"subnet {_q(subnet)} has host bits set and host-local refuses it; write \"{net}\"",
        )
        return None
    bits = addr.BITS[net.version]
    if net.prefix > bits - 2:
        c.error(
            "ipam-range", join(path, "subnet"),
            f"subnet {net} is too small to allocate from (host-local needs a prefix of at most "
            f"/{bits - 2}); use a larger subnet",
        )
        return None
    start = net.first + 1
    end = net.last - 1 if net.version == 4 else net.last
    value = obj.get("rangeStart")
    if value is not None and value != "":
        a = _ip_in(c, value, join(path, "rangeStart"), "rangeStart", net)
        if a is None:
            return None
        start = a.value
    value = obj.get("rangeEnd")
    if value is not None and value != "":
        a = _ip_in(c, value, join(path, "rangeEnd"), "rangeEnd", net)
        if a is None:
            return None
        end = a.value
    if start > end:
        c.error(
            "ipam-range", join(path, "rangeStart"),
            f"rangeStart {addr.fmt(net.version, start)} is after rangeEnd "
            f"{addr.fmt(net.version, end)}; swap them or fix the range",
        )
        return None
    value = obj.get("gateway")
    if value is not None and value != "":
        _ip_in(c, value, join(path, "gateway"), "gateway", net)
    return _Range(path, net, start, end)


def _ip_in(c: Collector, value: object, path: str, what: str, net: Net) -> Addr | None:
    ip = parse_ip(c, value, path, what)
    if ip is None:
        return None
    if not net.contains(ip):
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
            if a.net.version == b.net.version and a.start <= b.end and b.start <= a.end:
                c.error(
                    "ipam-overlap", b.path,
                    f"range {b.text()} overlaps {a.text()} at {a.path}; host-local refuses "
                    "overlapping ranges, make them disjoint",
                )


def _routes(c: Collector, routes: object, path: str) -> None:
    if routes is None:
        return
    if not isinstance(routes, list):
        c.error("route", path, f"routes must be a list of {{\"dst\", \"gw\"}}, got {_kind(routes)}")
        return
    for i, route in enumerate(routes):
        if not isinstance(route, dict):
            c.error("route", join(path, i), f"a route must be an object, got {_kind(route)}")
            continue
        dst = route.get("dst")
        if dst is None or dst == "":
            c.error("route", join(join(path, i), "dst"),
                    "a route needs \"dst\" (e.g. \"0.0.0.0/0\")")
            continue
        parsed = parse_cidr(c, dst, join(join(path, i), "dst"), "route dst")
        if parsed is None:
            continue
        ip, net = parsed
        if ip.value != net.first:
            c.error(
                "route", join(join(path, i), "dst"),
                f"route dst {_q(dst)} has host bits set and the kernel rejects it; "
                f"write \"{net}\"",
            )
        gw = route.get("gw")
        if gw is not None and gw != "":
            gw_ip = parse_ip(c, gw, join(join(path, i), "gw"), "route gw")
            if gw_ip is not None and gw_ip.version != net.version:
                c.error(
                    "route", join(join(path, i), "gw"),
                    f"route gw {gw_ip} is IPv{gw_ip.version} but dst {net} is IPv{net.version}; "
                    "use a gateway of the same family",
                )


# --- static -------------------------------------------------------------------------------


def _static(c: Collector, ipam: dict[str, Any], path: str, capabilities: object) -> None:
    addresses = ipam.get("addresses")
    if addresses is None or addresses == []:
        asks_ips = isinstance(capabilities, dict) and capabilities.get("ips") is True
        if not asks_ips:
            c.warning(
                "ipam", join(path, "addresses"),
                "static IPAM without addresses assigns nothing unless pods request \"ips\"; "
                "add addresses or declare capabilities {\"ips\": true}",
            )
    elif not isinstance(addresses, list):
        c.error("ipam", join(path, "addresses"),
                f"addresses must be a list, got {_kind(addresses)}")
    else:
        a_path = join(path, "addresses")
        for i, entry in enumerate(addresses):
            if not isinstance(entry, dict):
                c.error("ipam", join(a_path, i),
                        f"an address entry must be an object, got {_kind(entry)}")
                continue
            address = entry.get("address")
            if address is None or address == "":
                c.error(
                    "ipam", join(join(a_path, i), "address"),
                    "an address entry needs \"address\" in CIDR form (e.g. \"10.1.1.5/24\")",
                )
                continue
            parsed = parse_cidr(c, address, join(join(a_path, i), "address"), "address")
            if parsed is None:
                continue
            gateway = entry.get("gateway")
            if gateway is not None and gateway != "":
                _ip_in(c, gateway, join(join(a_path, i), "gateway"), "gateway", parsed[1])
    if "routes" in ipam:
        _routes(c, ipam["routes"], join(path, "routes"))


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
    gateway = ipam.get("gateway")
    if gateway is not None and gateway != "":
        parse_ip(c, gateway, join(path, "gateway"), "gateway")
    if "routes" in ipam:
        _routes(c, ipam["routes"], join(path, "routes"))


def _whereabouts_range(c: Collector, obj: dict[str, Any], path: str) -> None:
    r_path = join(path, "range")
    text = obj["range"]
    if not isinstance(text, str):
        c.error("cidr", r_path, f"range must be a CIDR string, got {_kind(text)}")
        return
    start: Addr | None = None
    end: Addr | None = None
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
    ip, net = parsed
    small = net.size <= 2
    if start is None:
        start = ip if ip.value != net.first or small else Addr(net.version, net.first + 1)
    if end is None:
        end = Addr(net.version, net.last - 1 if net.version == 4 and not small else net.last)
    for key in ("range_start", "range_end"):
        value = obj.get(key)
        if value is not None and value != "":
            a = _ip_in(c, value, join(path, key), key, net)
            if a is None:
                return
            if key == "range_start":
                start = a
            else:
                end = a
    if not net.contains(start) or not net.contains(end):
        c.error("ipam-range", r_path, f"range {_q(text)} ends outside its own prefix {net}")
        return
    if start.value > end.value:
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
                if ex_parsed is None:
                    continue
                ex_net = ex_parsed[1]
                if ex_net.version != net.version or ex_net.last < net.first \
                        or ex_net.first > net.last:
                    c.warning(
                        "ipam-range", join(e_path, i),
                        f"exclude {ex} is outside range {net} and has no effect; remove it or "
                        "fix the prefix",
                    )
    c.ranges.append(IpRange(c.label, r_path, net.version, start.value, end.value))
