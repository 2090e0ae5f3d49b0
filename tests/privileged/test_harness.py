"""The tier's own machinery, proven with the reference plugins called directly.

If these fail, the scenarios' failures say nothing about multus: the namespaces, the
plugin execution or the inspection helpers are broken instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import netns as nslab
import pytest
from cnitier import Dirs, RunCni

pytestmark = pytest.mark.privileged


def _bridge(dirs: Dirs) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0", "name": "cluster", "type": "bridge", "bridge": "cni0",
        "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "subnet": "10.244.0.0/24", "dataDir": str(dirs.ipam)},
    }


def _macvlan(dirs: Dirs, master: str = "eth0") -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0", "name": "mv", "type": "macvlan", "master": master,
        "mode": "bridge",
        "ipam": {"type": "host-local", "subnet": "192.168.1.0/24", "dataDir": str(dirs.ipam)},
    }


def test_node_namespace_has_the_veth_master(node: nslab.Node) -> None:
    found = nslab.links(node.name)
    assert set(found) == {"lo", "eth0", "uplink0"}
    assert found["eth0"]["link_type"] == "ether"
    assert found["eth0"].get("link") == "uplink0"


@pytest.fixture
def run_cni(node: nslab.Node) -> RunCni:
    """The runner without multus: every call names its reference plugin."""
    return RunCni(node, Path("/usr/lib/cni/loopback"))


def test_reference_plugins_attach_and_detach(
    run_cni: RunCni, node: nslab.Node, pod: str, dirs: Dirs
) -> None:
    bridge = Path("/usr/lib/cni/bridge")
    macvlan = Path("/usr/lib/cni/macvlan")
    added = run_cni("ADD", _bridge(dirs), "c1", pod, "eth0", plugin=bridge)
    assert added.rc == 0, added.stdout
    assert added.out["ips"][0]["address"] == "10.244.0.2/24"
    added = run_cni("ADD", _macvlan(dirs), "c1", pod, "net1", plugin=macvlan)
    assert added.rc == 0, added.stdout

    addrs = nslab.addresses(pod, family=4)
    assert addrs == {"lo": ["127.0.0.1/8"], "eth0": ["10.244.0.2/24"],
                     "net1": ["192.168.1.2/24"]}
    assert "cni0" in node.link_names()
    leases = nslab.host_local_leases(dirs.ipam)
    assert leases["cluster"]["10.244.0.2"].split() == ["c1", "eth0"]
    assert leases["mv"]["192.168.1.2"].split() == ["c1", "net1"]

    assert run_cni("DEL", _macvlan(dirs), "c1", pod, "net1", plugin=macvlan).rc == 0
    assert run_cni("DEL", _bridge(dirs), "c1", pod, "eth0", plugin=bridge).rc == 0
    assert nslab.link_names(pod) == {"lo"}
    assert nslab.host_local_leases(dirs.ipam) == {}


def test_reference_plugin_error_is_parsed(run_cni: RunCni, pod: str, dirs: Dirs) -> None:
    res = run_cni("ADD", _macvlan(dirs, master="nope0"), "c1", pod, "net1",
                  plugin="/usr/lib/cni/macvlan")
    assert res.rc == 1
    assert res.out["code"] == 999
    assert "Link not found" in res.out["msg"]


def test_teardown_removes_namespaces(lab: nslab.Lab, pod_factory: Callable[[], str]) -> None:
    pods = [pod_factory() for _ in range(3)]
    assert set(pods) <= set(nslab.netns_list())
    assert not lab.teardown()
    assert not set(pods) & set(nslab.netns_list())


def test_snapshot_diff(dirs: Dirs) -> None:
    before = nslab.snapshot(dirs.root)
    (dirs.cni / "a").write_text("x")
    after = nslab.snapshot(dirs.root)
    d = nslab.diff(before, after)
    assert d.added == ["cni/a"]
    assert d.changed == []
    assert d.removed == []
