"""Plugin-specific checks for the reference plugins most NADs use (stdlib only).

Only keys whose mistakes make ADD fail (or silently do something else) are checked; every
other key is the plugin's business and passes through untouched.
"""

from __future__ import annotations

from typing import Any

from multusctl.jsontypes import kind_of as _kind
from multusctl.nad.findings import Collector, join
from multusctl.nad.findings import quote as _q

MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")
IPVLAN_MODES = ("l2", "l3", "l3s")
#: Linux IFNAMSIZ - 1.
IFNAME_MAX = 15
MTU_MIN = 68
MTU_MAX = 65535
VLAN_MAX = 4094
_IFNAME_BAD = frozenset("/: \t\n\r\v\f")


def check_plugin(c: Collector, conf: dict[str, Any], path: str, *, has_resource: bool) -> None:
    """Check the type-specific keys of one plugin config at ``path``."""
    plugin_type = conf.get("type")
    if "mtu" in conf:
        _mtu(c, conf["mtu"], join(path, "mtu"))
    if plugin_type == "macvlan":
        _master(c, conf, path, plugin_type, required=False)
        _mode(c, conf, path, MACVLAN_MODES, "bridge")
    elif plugin_type == "ipvlan":
        _master(c, conf, path, plugin_type, required=False)
        _mode(c, conf, path, IPVLAN_MODES, "l2")
    elif plugin_type == "vlan":
        _master(c, conf, path, plugin_type, required=True)
        _vlan_id(c, conf, path)
    elif plugin_type == "bridge":
        if "bridge" in conf:
            ifname(c, conf["bridge"], join(path, "bridge"), "bridge name")
        if "vlan" in conf:
            _vlan_number(c, conf["vlan"], join(path, "vlan"), "vlan")
    elif plugin_type == "sriov" and not has_resource and not conf.get("deviceID"):
        c.warning(
            "device", join(path, "deviceID"),
            "sriov needs a device: without the k8s.v1.cni.cncf.io/resourceName annotation "
            "no deviceID is injected; add the annotation naming the device-plugin resource",
        )


def ifname(c: Collector, value: object, path: str, what: str) -> bool:
    """An interface name: a non-empty string of at most 15 bytes with no '/', ':' or spaces."""
    if not isinstance(value, str):
        c.error("ifname", path, f"{what} must be a string, got {_kind(value)}")
        return False
    if value in ("", ".", ".."):
        c.error("ifname", path, f"{what} {_q(value)} is not a usable interface name")
        return False
    if len(value.encode()) > IFNAME_MAX:
        c.error(
            "ifname", path,
            f"{what} {_q(value)} is longer than {IFNAME_MAX} characters, the Linux limit; "
            "shorten it",
        )
        return False
    if any(ch in _IFNAME_BAD for ch in value):
        c.error(
            "ifname", path,
            f"{what} {_q(value)} contains '/', ':' or whitespace, which Linux interface names "
            "cannot hold",
        )
        return False
    return True


def _master(c: Collector, conf: dict[str, Any], path: str, ptype: str, *, required: bool) -> None:
    m_path = join(path, "master")
    master = conf.get("master")
    if master is None or master == "":
        if required:
            c.error(
                "master", m_path,
                f"{ptype} needs \"master\", the host interface to attach to; add e.g. "
                "\"master\": \"eth1\"",
            )
        else:
            c.warning(
                "master", m_path,
                f"{ptype} has no \"master\", so the node's default-route interface is used, "
                "which may differ between nodes; set \"master\" explicitly",
            )
        return
    ifname(c, master, m_path, "master")


def _mode(
    c: Collector, conf: dict[str, Any], path: str, allowed: tuple[str, ...], default: str
) -> None:
    if "mode" not in conf:
        return
    mode = conf["mode"]
    if mode == "":
        return  # the plugin's default (``default``)
    if mode not in allowed:
        c.error(
            "mode", join(path, "mode"),
            f"{conf.get('type')} mode {_q(mode)} is not one of {', '.join(allowed)}; "
            f"use one of them (default {default})",
        )


def _mtu(c: Collector, value: object, path: str) -> None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return  # 0 / null: the plugin's default
    if not isinstance(value, int) or isinstance(value, bool):
        c.error("mtu", path, f"mtu must be an integer, got {_kind(value)} {_q(value)}")
        return
    if not MTU_MIN <= value <= MTU_MAX:
        c.error(
            "mtu", path,
            f"mtu {value} is outside {MTU_MIN}-{MTU_MAX}; use e.g. 1500 or leave it out for "
            "the default",
        )


def _vlan_id(c: Collector, conf: dict[str, Any], path: str) -> None:
    if "vlanId" not in conf:
        c.warning(
            "vlan", join(path, "vlanId"),
            "vlan has no \"vlanId\", so it defaults to 0 (priority-tagged, no VLAN); "
            "set the VLAN id (1-4094)",
        )
        return
    _vlan_number(c, conf["vlanId"], join(path, "vlanId"), "vlanId")


def _vlan_number(c: Collector, value: object, path: str, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        c.error("vlan", path, f"{what} must be an integer 0-{VLAN_MAX}, got {_kind(value)}")
        return
    if not 0 <= value <= VLAN_MAX:
        c.error("vlan", path, f"{what} {value} is outside 0-{VLAN_MAX}; use a valid VLAN id")
