from __future__ import annotations

import json

import pytest

from multusctl.cni.env import K8sArgs
from multusctl.errors import InvalidConfig
from multusctl.plugin import cache, delegates

RAW = json.dumps({"cniVersion": "1.0.0", "name": "mv", "type": "macvlan"}).encode()


def test_ifnames() -> None:
    items = delegates.mark_master([delegates.from_config(RAW) for _ in range(3)])
    names = [delegates.ifname_for(d, i, "eth0") for i, d in enumerate(items)]
    assert names == ["eth0", "net1", "net2"]
    requested = delegates.Delegate(name="x", raw=RAW, ifname_request="foo")
    assert delegates.ifname_for(requested, 5, "eth0") == "foo"


def test_delegate_args_order_and_dedupe() -> None:
    k8s = K8sArgs(pod_namespace="ns", pod_name="p", pod_uid="u")
    d = delegates.Delegate(name="x", raw=RAW, mac_request="c2:b0:57:49:47:f1",
                           ip_request=("10.1.1.5/24",))
    args = delegates.delegate_args(
        k8s, [("IgnoreUnknown", "1"), ("K8S_POD_NAME", "p"), ("K8S_POD_INFRA_CONTAINER_ID", "c"),
              ("EXTRA", "1")], d
    )
    assert args == (
        ("IgnoreUnknown", "true"),
        ("K8S_POD_NAMESPACE", "ns"),
        ("K8S_POD_NAME", "p"),
        ("K8S_POD_INFRA_CONTAINER_ID", "c"),
        ("K8S_POD_UID", "u"),
        ("EXTRA", "1"),
        ("MAC", "c2:b0:57:49:47:f1"),
        ("IP", "10.1.1.5/24"),
    )


def test_capability_args_master_keeps_runtime_config() -> None:
    master = delegates.Delegate(name="c", raw=RAW, master=True, mac_request="aa:bb:cc:dd:ee:ff")
    rc = {"portMappings": [{"hostPort": 80, "containerPort": 8080}], "bandwidth": {}}
    assert delegates.capability_args(master, rc, container_id="c1", ifname="eth0") == {
        "portMappings": [{"hostPort": 80, "containerPort": 8080}]
    }


def test_capability_args_device_info_path() -> None:
    d = delegates.Delegate(name="ns/sriov", raw=RAW, device_id="0000:03:00.1")
    caps = delegates.capability_args(d, {}, container_id="c1", ifname="net1")
    assert caps["deviceID"] == "0000:03:00.1"
    assert caps["CNIDeviceInfoFile"] == "/var/run/k8s.cni.cncf.io/devinfo/cni/ns-sriov-c1_net1"


@pytest.mark.parametrize("mac", ["c2:b0:57:49:47:f1", "c2-b0-57-49-47-f1", "c2b0.5749.47f1"])
def test_mac_forms(mac: str) -> None:
    assert delegates.is_mac(mac)


def test_bad_requests() -> None:
    with pytest.raises(InvalidConfig, match='failed to parse mac address "zz"'):
        delegates.validate_requests(delegates.Delegate(name="x", raw=RAW, mac_request="zz"))
    with pytest.raises(InvalidConfig, match=r'failed to parse IP address "1\.2\.3"'):
        delegates.validate_requests(delegates.Delegate(name="x", raw=RAW, ip_request=("1.2.3",)))


def test_cache_round_trip(tmp_path: object) -> None:
    items = delegates.mark_master([
        delegates.from_config(RAW),
        delegates.Delegate(name="ns/b", raw=RAW, ifname_request="x", default_route=("1.1.1.1",)),
    ])
    parsed = cache.parse(cache.render(items))
    assert [d.name for d in parsed] == ["mv", "ns/b"]
    assert parsed[0].master
    assert not parsed[1].master
    assert parsed[1].ifname_request == "x"
    assert parsed[1].default_route == ("1.1.1.1",)
    assert parsed[1].raw == RAW
    element = json.loads(cache.render(items))[0]
    assert element["Conf"]["type"] == "macvlan"
    assert "Bytes" in element


def test_cache_rejects_empty() -> None:
    with pytest.raises(ValueError, match="no delegates"):
        cache.parse(b"[]")
