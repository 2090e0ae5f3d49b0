"""Warm caches (stores, trimming, cache-first KubeAPI) and the shim config manager."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from multusctl.daemon import informers
from multusctl.errors import KubeNotFound
from multusctl.installer.thick import ShimConfigManager, ThickConfigOptions, as_shim

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
        "managedFields": [{"big": "x" * 1000}],
        "annotations": {
            "k8s.v1.cni.cncf.io/networks": "a,b",
            "k8s.v1.cni.cncf.io/network-status": "[...]",
            "kubectl.kubernetes.io/last-applied-configuration": "x" * 1000,
            "kubernetes.io/config.source": "api",
            "v1.multus-cni.io/default-network": "d",
        },
    },
    "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "B"}]}]},
    "status": {"phase": "Running"},
}


def test_trim_pod_keeps_only_what_the_core_reads() -> None:
    trimmed = informers.trim_pod(POD)
    assert trimmed == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
            "annotations": {
                "k8s.v1.cni.cncf.io/networks": "a,b",
                "kubernetes.io/config.source": "api",
                "v1.multus-cni.io/default-network": "d",
            },
        },
    }


def test_trim_nad() -> None:
    nad = {"metadata": {"name": "n", "namespace": "ns", "uid": "u",
                        "annotations": {"k8s.v1.cni.cncf.io/resourceName": "r", "x": "y"}},
           "spec": {"config": "{}", "other": 1}}
    trimmed = informers.trim_nad(nad)
    assert trimmed["spec"] == {"config": "{}"}
    assert trimmed["metadata"]["annotations"] == {"k8s.v1.cni.cncf.io/resourceName": "r"}
    assert informers.trim_nad({"metadata": {"name": "e"}})["spec"] == {}


def _pod(name: str, uid: str = "u") -> dict[str, Any]:
    return informers.trim_pod({"metadata": {"name": name, "namespace": "ns", "uid": uid}})


def test_store_is_bounded() -> None:
    store = informers.ObjectStore(max_objects=2)
    store.replace([_pod("a"), _pod("b"), _pod("c")])
    assert len(store) == 2
    assert store.overflow == 1
    store.upsert(_pod("d"))
    assert store.get("ns", "d") is None
    store.upsert(_pod("a", "u2"))  # updates of known objects always land
    assert store.get("ns", "a")["metadata"]["uid"] == "u2"  # type: ignore[index]
    store.delete(_pod("a"))
    store.upsert(_pod("d"))
    assert store.get("ns", "d") is not None


def test_store_wait_for() -> None:
    store = informers.ObjectStore(max_objects=10)
    threading.Timer(0.05, lambda: store.upsert(_pod("late", "u9"))).start()
    found = store.wait_for("ns", "late", lambda o: o["metadata"]["uid"] == "u9", timeout=5)
    assert found is not None
    assert store.wait_for("ns", "never", lambda o: True, timeout=0.05) is None


class FakeRest:
    """Counts what reaches the API."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def get_pod(self, namespace: str, name: str, *, timeout: float) -> dict[str, Any]:
        self.calls.append(("get_pod", name))
        if name == "gone":
            raise KubeNotFound("not found", status=404)
        return {"metadata": {"name": name, "namespace": namespace, "uid": "api-uid"}}

    def get_nad(self, namespace: str, name: str) -> dict[str, Any]:
        self.calls.append(("get_nad", name))
        return {"metadata": {"name": name, "namespace": namespace}, "spec": {"config": "{}"}}

    def set_network_status(self, namespace: str, name: str, uid: str, value: str) -> None:
        self.calls.append(("status", name))


class FakePool:
    def __init__(self) -> None:
        self.rest = FakeRest()

    @contextmanager
    def kube(self) -> Iterator[FakeRest]:
        yield self.rest


class FakeReflector:
    def __init__(self) -> None:
        self.synced = threading.Event()
        self.synced.set()


class FakeWarm:
    def __init__(self) -> None:
        self.pods = informers.ObjectStore(10)
        self.nads = informers.ObjectStore(10)
        self.pool = FakePool()
        self.pod_reflector = FakeReflector()
        self.events = None
        self.cache_hits = {"pod": 0, "nad": 0}
        self.cache_misses = {"pod": 0, "nad": 0}


def test_request_kube_serves_from_cache_and_falls_back() -> None:
    warm = FakeWarm()
    warm.pods.upsert(_pod("p", "u1"))
    warm.nads.upsert(informers.trim_nad({"metadata": {"name": "n", "namespace": "ns"},
                                         "spec": {"config": "{}"}}))
    kube = informers.RequestKube(warm, "u1")  # type: ignore[arg-type]
    assert kube.get_pod("ns", "p", timeout=1)["metadata"]["uid"] == "u1"
    assert kube.get_nad("ns", "n")["spec"] == {"config": "{}"}
    assert warm.pool.rest.calls == []
    assert kube.request_count() == 0
    # a different UID in the cache (pod recreated, watch late): wait, then ask the API
    stale = informers.RequestKube(warm, "u-new")  # type: ignore[arg-type]
    started = time.monotonic()
    assert stale.get_pod("ns", "p", timeout=1)["metadata"]["uid"] == "api-uid"
    assert time.monotonic() - started >= informers.POD_WAIT_SECONDS * 0.9
    with pytest.raises(KubeNotFound):
        kube.get_pod("ns", "gone", timeout=1)
    kube.get_nad("ns", "missing")
    kube.set_network_status("ns", "p", "u1", "[]")
    assert warm.pool.rest.calls == [("get_pod", "p"), ("get_pod", "gone"),
                                    ("get_nad", "missing"), ("status", "p")]
    # cached objects are copies: the core may not change the cache
    kube.get_pod("ns", "p", timeout=1)["metadata"]["uid"] = "changed"
    assert warm.pods.get("ns", "p")["metadata"]["uid"] == "u1"  # type: ignore[index]


# --------------------------------------------------------------------------- config manager


def _manager(tmp_path: Path, **extra: Any) -> tuple[ShimConfigManager, list[int]]:
    exits: list[int] = []
    opts = ThickConfigOptions(cni_config_dir=str(tmp_path), autoconfig_dir=str(tmp_path),
                              **extra)
    manager = ShimConfigManager(opts, info=lambda _m: None, error=lambda _m: None,
                                exit_request=exits.append, sleep=lambda _s: None,
                                use_inotify=False)
    return manager, exits


def test_as_shim() -> None:
    assert as_shim('{\n        "type": "multus",\n}') == '{\n        "type": "multus-shim",\n}'


def test_manager_writes_a_shim_config(tmp_path: Path) -> None:
    (tmp_path / "10-flannel.conflist").write_text(json.dumps({
        "cniVersion": "0.3.1", "name": "cbr0",
        "plugins": [{"type": "flannel"}, {"type": "portmap",
                                           "capabilities": {"portMappings": True}}],
    }))
    manager, _ = _manager(tmp_path, log_level="verbose")
    manager.first(tries=1)
    conf = json.loads((tmp_path / "00-multus.conf").read_text())
    assert conf["type"] == "multus-shim"
    assert conf["name"] == "multus-cni-network"
    assert conf["capabilities"] == {"portMappings": True}
    assert conf["delegates"][0]["name"] == "cbr0"
    assert "kubeconfig" not in conf
    assert "cniConf" not in conf
    assert manager.reconcile()  # idempotent


def test_as_shim_writes_the_daemon_socket_dir_after_the_type() -> None:
    text = '{\n    "plugins": [ {\n        "type": "multus",\n        "x": 1\n    }]\n}\n'
    out = as_shim(text, "/node/run/multus/")
    assert out.splitlines()[2:4] == ['        "type": "multus-shim",',
                                     '        "daemonSocketDir": "/node/run/multus/",']
    assert json.loads(out)["plugins"][0]["daemonSocketDir"] == "/node/run/multus/"


@pytest.mark.parametrize(("version", "name"), [("0.3.1", "00-multus.conf"),
                                               ("1.0.0", "00-multus.conflist")])
def test_manager_writes_daemon_socket_dir_for_the_shim(
    tmp_path: Path, version: str, name: str
) -> None:
    (tmp_path / "10-a.conf").write_text(
        json.dumps({"cniVersion": version, "name": "a", "type": "x"}))
    manager, _ = _manager(tmp_path, daemon_socket_dir='/node "q"/run/')
    manager.first(tries=1)
    conf = json.loads((tmp_path / name).read_text())
    shim = conf["plugins"][0] if "plugins" in conf else conf
    assert shim["type"] == "multus-shim"
    assert shim["daemonSocketDir"] == '/node "q"/run/'
    plain, _ = _manager(tmp_path / "plain")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "10-a.conf").write_text((tmp_path / "10-a.conf").read_text())
    plain.first(tries=1)
    assert "daemonSocketDir" not in (tmp_path / "plain" / name).read_text()


def test_manager_gives_up_without_a_master(tmp_path: Path) -> None:
    manager, _ = _manager(tmp_path)
    with pytest.raises(Exception, match="failed to find the cluster master CNI plugin"):
        manager.first(tries=2)


def test_manager_refuses_its_own_output_as_master(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="to prevent recursive config load"):
        _manager(tmp_path, master=str(tmp_path / "00-multus.conf"))


def test_readiness_file_removal_deletes_config_and_exits_2(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.write_text("")
    (tmp_path / "10-a.conf").write_text('{"cniVersion": "0.4.0", "name": "a", "type": "x"}')
    manager, exits = _manager(tmp_path, readiness_indicator_file=str(ready))
    manager.first(tries=1)
    assert (tmp_path / "00-multus.conf").exists()
    ready.unlink()
    manager.reconcile()
    assert not (tmp_path / "00-multus.conf").exists()
    assert exits == [2]


def test_stop_keeps_the_config_unless_cleanup(tmp_path: Path) -> None:
    (tmp_path / "10-a.conf").write_text('{"cniVersion": "0.4.0", "name": "a", "type": "x"}')
    manager, _ = _manager(tmp_path)
    manager.start()
    manager.stop(cleanup=False)
    assert (tmp_path / "00-multus.conf").exists()
    manager, _ = _manager(tmp_path)
    manager.start()
    manager.stop(cleanup=True)
    assert not (tmp_path / "00-multus.conf").exists()
