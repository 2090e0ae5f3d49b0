"""Device-info files on a real filesystem (CORE-20): copy before ADD, load after, remove on DEL."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from multusctl.plugin import delegates, devinfo

pytestmark = pytest.mark.integration

DP_DOC = {
    "type": "pci",
    "version": "1.1.0",
    "pci": {"pci-address": "0000:03:02.0", "pf-pci-address": "0000:03:00.0", "x": "dropped"},
    "comment": "dropped",
}


def _dp_file(base: Path, resource: str, device: str) -> Path:
    path = Path(devinfo.dp_path(resource, device, base=str(base)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(DP_DOC))
    return path


def test_add_copy_then_load_then_del_remove(tmp_path: Path) -> None:
    base = tmp_path / "devinfo"
    _dp_file(base, "intel.com/sriov", "0000:03:02.0")
    cni = delegates.device_info_path("ns/sriov-net", "cid123", "net1", base=str(base))
    assert cni == f"{base}/cni/ns-sriov-net-cid123_net1"

    devinfo.copy_from_dp(cni, "intel.com/sriov", "0000:03:02.0", base=str(base))

    assert stat.S_IMODE(os.stat(cni).st_mode) == 0o444
    assert Path(cni).read_text() == (
        '{"type":"pci","version":"1.1.0",'
        '"pci":{"pci-address":"0000:03:02.0","pf-pci-address":"0000:03:00.0"}}'
    )
    assert [p.name for p in Path(cni).parent.iterdir()] == ["ns-sriov-net-cid123_net1"]
    assert devinfo.load(cni) == {
        "type": "pci",
        "version": "1.1.0",
        "pci": {"pci-address": "0000:03:02.0", "pf-pci-address": "0000:03:00.0"},
    }

    assert devinfo.remove(cni) is True
    assert devinfo.load(cni) is None
    assert devinfo.remove(cni) is False


def test_copy_refuses_to_overwrite(tmp_path: Path) -> None:
    base = tmp_path / "devinfo"
    _dp_file(base, "r/x", "d")
    cni = str(base / "cni" / "f")
    devinfo.copy_from_dp(cni, "r/x", "d", base=str(base))
    with pytest.raises(devinfo.DevInfoError) as err:
        devinfo.copy_from_dp(cni, "r/x", "d", base=str(base))
    assert err.value.msg == f"Device Information file already exists: {cni}"


def test_copy_without_dp_file(tmp_path: Path) -> None:
    dp = devinfo.dp_path("r/x", "d", base=str(tmp_path))
    cni = str(tmp_path / "cni" / "f")
    with pytest.raises(devinfo.DevInfoError) as err:
        devinfo.copy_from_dp(cni, "r/x", "d", base=str(tmp_path))
    assert err.value.msg == f"open {dp}: no such file or directory"
    assert not os.path.exists(cni)


def test_copy_with_malformed_dp_file(tmp_path: Path) -> None:
    dp = Path(devinfo.dp_path("r", "d", base=str(tmp_path)))
    dp.parent.mkdir(parents=True)
    dp.write_text('{"pci": "0000:03:02.0"}')
    with pytest.raises(devinfo.DevInfoError, match="cannot unmarshal string"):
        devinfo.copy_from_dp(str(tmp_path / "cni" / "f"), "r", "d", base=str(tmp_path))


def test_plugin_written_devinfo_is_loaded(tmp_path: Path) -> None:
    """No dp file, but the delegate wrote the CNIDeviceInfoFile itself: still reported."""
    cni = tmp_path / "cni-file"
    cni.write_text(
        '{"type":"vhost-user","vhost-user":{"mode":"server","path":"/s"},"version":"1.1.0"}'
    )
    assert devinfo.load(str(cni)) == {
        "type": "vhost-user",
        "version": "1.1.0",
        "vhost-user": {"mode": "server", "path": "/s"},
    }
    cni.write_text("{broken")
    with pytest.raises(devinfo.DevInfoError):
        devinfo.load(str(cni))
