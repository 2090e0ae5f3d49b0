"""deviceID injection, devinfo paths and the DeviceInfo shape (NAD-06, CORE-10, CORE-20)."""

from __future__ import annotations

import json

import pytest

from multusctl.errors import InvalidConfig
from multusctl.plugin import delegates, devinfo


def test_inject_conf_keeps_other_keys_and_order() -> None:
    raw = b'{"cniVersion":"1.0.0","name":"sriov","type":"sriov","vlan":0,"x":{"b":1,"a":[1.5]}}'
    out = json.loads(devinfo.inject_device_id(raw, "0000:03:02.0"))
    assert list(out) == ["cniVersion", "name", "type", "vlan", "x", "deviceID", "pciBusID"]
    assert out["x"] == {"b": 1, "a": [1.5]}
    assert list(out["x"]) == ["b", "a"]
    assert out["deviceID"] == out["pciBusID"] == "0000:03:02.0"


def test_inject_conf_overwrites_in_place() -> None:
    raw = b'{"deviceID":"old","name":"n","type":"t"}'
    assert devinfo.inject_device_id(raw, "new") == (
        b'{"deviceID":"new","name":"n","type":"t","pciBusID":"new"}'
    )


def test_inject_conflist_every_plugin_not_the_list() -> None:
    raw = json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": "chain",
            "plugins": [{"type": "sriov", "custom": True}, {"type": "tuning"}],
        }
    ).encode()
    out = json.loads(devinfo.inject_device_id(raw, "dev/1"))
    assert "deviceID" not in out
    assert out["plugins"] == [
        {"type": "sriov", "custom": True, "deviceID": "dev/1", "pciBusID": "dev/1"},
        {"type": "tuning", "deviceID": "dev/1", "pciBusID": "dev/1"},
    ]


def test_conflist_detection_like_upstream() -> None:
    assert devinfo.is_conflist(b'{"plugins":[]}')
    assert not devinfo.is_conflist(b'{"plugins":null,"type":"x"}')
    assert not devinfo.is_conflist(b'{"type":"x"}')
    assert not devinfo.is_conflist(b"nope")
    out = json.loads(devinfo.inject_device_id(b'{"plugins":null,"type":"x"}', "d"))
    assert out == {"plugins": None, "type": "x", "deviceID": "d", "pciBusID": "d"}


@pytest.mark.parametrize(
    ("raw", "conflist", "msg"),
    [
        (
            b"[1]",
            False,
            "LoadDelegateNetConf: failed to add deviceID in NetConf bytes: delegateAddDeviceID: "
            "failed to unmarshal inBytes: json: cannot unmarshal array into Go value of type "
            "map[string]interface {}",
        ),
        (
            b'{"name":"l"}',
            True,
            "LoadDelegateNetConf: failed to add deviceID in NetConfList bytes: "
            "addDeviceIDInConfList: unable to get plugin list",
        ),
        (
            b'{"plugins":{"a":1}}',
            True,
            "LoadDelegateNetConf: failed to add deviceID in NetConfList bytes: "
            "addDeviceIDInConfList: unable to typecast plugin list",
        ),
        (
            b'{"plugins":[{"type":"a"},"x"]}',
            True,
            "LoadDelegateNetConf: failed to add deviceID in NetConfList bytes: "
            "addDeviceIDInConfList: unable to typecast plugin #1",
        ),
    ],
)
def test_inject_errors(raw: bytes, conflist: bool, msg: str) -> None:
    with pytest.raises(InvalidConfig) as err:
        devinfo.inject_device_id(raw, "d", conflist=conflist)
    assert err.value.msg == msg


def test_inject_invalid_json() -> None:
    with pytest.raises(InvalidConfig, match=r"^LoadDelegateNetConf: .* delegateAddDeviceID: "):
        devinfo.inject_device_id(b"{", "d")


def test_dp_path_replaces_slashes() -> None:
    assert devinfo.dp_path("intel.com/sriov_netdevice", "0000:03:02.0") == (
        "/var/run/k8s.cni.cncf.io/devinfo/dp/intel.com-sriov_netdevice-0000:03:02.0-device.json"
    )
    assert devinfo.dp_path("a/b", "c/d", base="/tmp/x") == "/tmp/x/dp/a-b-c-d-device.json"


def test_cni_path_default_and_base() -> None:
    assert delegates.device_info_path("ns/net1", "cid", "net1") == (
        f"{devinfo.DEFAULT_BASE}/cni/ns-net1-cid_net1"
    )
    assert delegates.device_info_path("ns/n", "c", "e", base="/tmp/d/") == "/tmp/d/cni/ns-n-c_e"


def test_normalize_like_nad_client() -> None:
    doc = {
        "version": "1.1.0",
        "type": "pci",
        "extra": "dropped",
        "pci": {"rdma-device": "", "pci-address": "0000:03:02.0", "unknown": "x"},
        "memif": None,
        "vhost-user": {},
    }
    out = devinfo.normalize(doc)
    assert json.dumps(out) == (
        '{"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:03:02.0"}, '
        '"vhost-user": {}}'
    )


def test_normalize_matches_keys_case_insensitively_like_go() -> None:
    assert devinfo.normalize({"Type": "vdpa", "VDPA": {"Driver": "vhost"}}) == {
        "type": "vdpa",
        "vdpa": {"driver": "vhost"},
    }


@pytest.mark.parametrize("doc", [[], "x", {"type": 1}, {"pci": "x"}, {"pci": {"pci-address": 5}}])
def test_normalize_type_errors(doc: object) -> None:
    with pytest.raises(ValueError, match=r"^json: cannot unmarshal "):
        devinfo.normalize(doc)
