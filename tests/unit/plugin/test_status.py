"""Unit tests of multusctl.plugin.status beyond the golden cases."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multusctl.errors import MultusError
from multusctl.plugin.status import entries_for, render, skip_status

SB = "/var/run/netns/x"


def _one(result: dict[str, object], master: bool = False) -> dict[str, object]:
    (entry,) = entries_for("ns/net", master, result)
    return entry


def test_skip_status_compares_the_namespace_not_the_pod_name() -> None:
    assert skip_status("kube-system", ["kube-system"])
    assert not skip_status("default", ["kube-system"])
    assert not skip_status("default", [])


def test_single_interface_entry_shape() -> None:
    entry = _one(
        {
            "cniVersion": "1.0.0",
            "interfaces": [{"name": "net1", "mac": "02:00:00:00:00:01", "sandbox": SB}],
            "ips": [{"address": "10.0.0.5/24", "interface": 0}],
        },
        master=True,
    )
    assert list(entry) == ["name", "interface", "ips", "mac", "default", "dns"]
    assert entry["ips"] == ["10.0.0.5"]


def test_false_default_and_empty_fields_are_left_out() -> None:
    entry = _one({"cniVersion": "1.0.0", "interfaces": [{"name": "net1", "sandbox": SB}]})
    assert entry == {"name": "ns/net", "interface": "net1", "dns": {}}


def test_render_of_nothing_is_an_empty_list() -> None:
    assert render([]) == "[]"


def test_render_puts_hand_made_entries_in_upstream_shape() -> None:
    made = {"gateway": [], "default": False, "dns": None, "ips": ["1.2.3.4"], "name": "x", "mtu": 0}
    assert (
        render([made])
        == '[{\n    "name": "x",\n    "ips": [\n        "1.2.3.4"\n    ],\n    "dns": {}\n}]'
    )


def test_render_escapes_like_go() -> None:
    text = render([{"name": "<a&b>\x01\u2029é", "dns": {}}])
    assert '"\\u003ca\\u0026b\\u003e\\u0001\\u2029é"' in text


def test_bad_result_is_a_multus_error() -> None:
    with pytest.raises(MultusError):
        entries_for("x", True, {"cniVersion": "1.0.0", "ips": [{"address": "nonsense"}]})
    with pytest.raises(MultusError):
        entries_for("x", True, {"cniVersion": "9.9.9"})


def test_bad_device_info_is_a_multus_error() -> None:
    with pytest.raises(MultusError, match="device-info"):
        entries_for("x", False, {"cniVersion": "1.0.0", "interfaces": [{"name": "a"}]}, {"pci": 5})


_IFACE = st.fixed_dictionaries(
    {"name": st.sampled_from(["eth0", "net1", "veth0"])},
    optional={"sandbox": st.sampled_from([SB, ""]), "mac": st.just("02:00:00:00:00:01"),
              "mtu": st.integers(0, 9000)},
)  # fmt: skip
_IP = st.fixed_dictionaries(
    {"address": st.sampled_from(["10.0.0.5/24", "fd00::5/64", "::ffff:10.1.1.1/120"])},
    optional={"interface": st.integers(-1, 4), "gateway": st.sampled_from(["10.0.0.1", "fd00::1"])},
)  # fmt: skip
_ROUTE = st.fixed_dictionaries(
    {"dst": st.sampled_from(["0.0.0.0/0", "::/0", "10.0.0.0/8", "0.0.0.0/8"])},
    optional={"gw": st.sampled_from(["10.0.0.1", "fd00::1"])},
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_IFACE, max_size=4),
    st.lists(_IP, max_size=4),
    st.lists(_ROUTE, max_size=3),
    st.booleans(),
)
def test_invariants(
    interfaces: list[dict[str, object]],
    ips: list[dict[str, object]],
    routes: list[dict[str, object]],
    master: bool,
) -> None:
    result = {"cniVersion": "1.1.0", "interfaces": interfaces, "ips": ips, "routes": routes}
    entries = entries_for("n", master, result)
    sandboxed = [i for i in interfaces if i.get("sandbox")]
    if len(interfaces) == 1:
        assert len(entries) == 1
    else:
        assert len(entries) == len(sandboxed)
    assert sum(1 for e in entries if e.get("default")) <= 1
    if not master:
        assert not any("default" in e for e in entries)
    for e in entries:
        assert all("/" not in ip for ip in e.get("ips", []))
    assert json.loads(render(entries)) == entries
