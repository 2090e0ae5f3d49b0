"""Kubernetes-backed delegate resolution against the in-memory KubeAPI (pure logic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from multusctl.cni.env import K8sArgs
from multusctl.errors import MultusError
from multusctl.kube.memory import MemoryKube
from multusctl.plugin import k8s, netconf
from multusctl.plugin.ports import NullLog

MACVLAN = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
           "ipam": {"type": "host-local", "subnet": "192.168.1.0/24"}}


def nad(name: str, namespace: str = "default", config: dict[str, Any] | None = None,
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {"config": json.dumps(config) if config is not None else ""},
    }


def pod(annotations: dict[str, str], namespace: str = "default") -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": "p", "namespace": namespace, "uid": "u1",
                                        "annotations": annotations}}


def resolver(kube: MemoryKube, the_pod: dict[str, Any] | None, **conf: Any) -> k8s.Resolver:
    body = {"name": "multus", "cniVersion": "0.3.1", **conf}
    if "clusterNetwork" not in body and "delegates" not in body:
        body["delegates"] = [{"cniVersion": "0.3.1", "name": "cluster", "type": "bridge"}]
    ns = (the_pod or {}).get("metadata", {}).get("namespace", "default")
    return k8s.Resolver(
        conf=netconf.load(json.dumps(body).encode()),
        kube=kube,
        k8s=K8sArgs(pod_namespace=ns, pod_name="p", pod_uid="u1"),
        log=NullLog(),
        pod=the_pod,
    )


def test_nad_name_injected_and_raw_kept() -> None:
    kube = MemoryKube([nad("macvlan-conf", config=MACVLAN)])
    r = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "macvlan-conf"}))
    items = r.pod_delegates([])
    assert [d.name for d in items] == ["default/macvlan-conf"]
    assert json.loads(items[0].raw)["name"] == "macvlan-conf"


def test_named_nad_config_is_byte_for_byte() -> None:
    text = '{"cniVersion":"0.3.1","name":"x","type":"macvlan","master":"eth0","z":{"k":1}}'
    obj = nad("x")
    obj["spec"]["config"] = text
    kube = MemoryKube([obj])
    items = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "x"})).pod_delegates([])
    assert items[0].raw == text.encode()


def test_missing_nad_error_and_event() -> None:
    kube = MemoryKube()
    r = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "nope"}))
    with pytest.raises(MultusError) as info:
        r.pod_delegates([])
    assert "cannot find a network-attachment-definition (nope) in namespace (default)" in str(
        info.value
    )
    assert r.events[0][:2] == ("Warning", "NoNetworkFound")


def test_namespace_isolation() -> None:
    kube = MemoryKube([nad("n", "other", MACVLAN), nad("g", "default", MACVLAN)])
    r = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "other/n"}, "dev"),
                 namespaceIsolation=True)
    with pytest.raises(MultusError, match="namespace isolation enabled"):
        r.pod_delegates([])
    ok = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "default/g"}, "dev"),
                  namespaceIsolation=True)
    assert [d.name for d in ok.pod_delegates([])] == ["default/g"]


def test_cni_args_merged_into_every_plugin() -> None:
    conflist = {"cniVersion": "0.3.1", "name": "l",
                "plugins": [{"type": "bridge", "args": {"cni": {"a": "1"}}}, {"type": "tuning"}]}
    kube = MemoryKube([nad("l", config=conflist)])
    annot = json.dumps([{"name": "l", "cni-args": {"b": "2"}}])
    items = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": annot})).pod_delegates([])
    plugins = json.loads(items[0].raw)["plugins"]
    assert plugins[0]["args"]["cni"] == {"a": "1", "b": "2"}
    assert plugins[1]["args"]["cni"] == {"b": "2"}


def test_requests_and_default_route_filters() -> None:
    kube = MemoryKube([nad("m", config=MACVLAN)])
    annot = json.dumps([{"name": "m", "interface": "my-intf", "ips": ["10.1.1.5/24"],
                         "mac": "c2:b0:57:49:47:f1", "default-route": ["192.168.1.1"]}])
    from multusctl.plugin import delegates

    base = [delegates.from_config(json.dumps({"cniVersion": "0.3.1", "name": "c",
                                              "type": "bridge"}).encode(), master=True)]
    items = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": annot})).pod_delegates(base)
    master, extra = items
    assert master.filter_v4_gateway
    assert master.filter_v6_gateway
    assert not extra.filter_v4_gateway
    assert extra.filter_v6_gateway
    assert extra.ifname_request == "my-intf"
    assert extra.ip_request == ("10.1.1.5/24",)


def test_default_network_annotation_replaces_master() -> None:
    kube = MemoryKube([nad("calico", "kube-system", MACVLAN)])
    from multusctl.plugin import delegates

    base = [delegates.from_config(json.dumps({"cniVersion": "0.3.1", "name": "c",
                                              "type": "bridge"}).encode(), master=True)]
    r = resolver(kube, pod({"v1.multus-cni.io/default-network": "calico"}))
    items = r.pod_delegates(base)
    assert [d.name for d in items] == ["kube-system/calico"]
    assert items[0].master


def test_cluster_network_nad_then_file_then_dir(tmp_path: Path) -> None:
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    (conf_dir / "10-flannel.conflist").write_text(json.dumps(
        {"cniVersion": "0.3.1", "name": "cbr0", "plugins": [{"type": "flannel"}]}))
    (conf_dir / "99-broken.conf").write_text("{nope")
    kube = MemoryKube([nad("fromnad", "kube-system", MACVLAN)])
    by_nad = resolver(kube, None, clusterNetwork="fromnad", confDir=str(conf_dir))
    assert by_nad.cluster_delegates()[0].name == "kube-system/fromnad"
    by_name = resolver(kube, None, clusterNetwork="cbr0", confDir=str(conf_dir))
    assert by_name.cluster_delegates()[0].name == "cbr0"
    by_dir = resolver(kube, None, clusterNetwork=str(conf_dir))
    assert by_dir.cluster_delegates()[0].name == "cbr0"
    by_file = resolver(kube, None, clusterNetwork=str(conf_dir / "10-flannel.conflist"))
    assert by_file.cluster_delegates()[0].master
    missing = resolver(kube, None, clusterNetwork="ghost", confDir=str(conf_dir))
    with pytest.raises(MultusError, match="failed to get clusterNetwork ghost in namespace"):
        missing.cluster_delegates()


def test_conflist_subdirectory_plugins(tmp_path: Path) -> None:
    (tmp_path / "cbr0").mkdir()
    (tmp_path / "cbr0" / "tuning.conf").write_text('{"type": "tuning"}')
    path = tmp_path / "10.conflist"
    path.write_text(json.dumps({"cniVersion": "0.3.1", "name": "cbr0",
                                "plugins": [{"type": "bridge"}]}))
    raw = k8s.load_conf_file(str(path))
    assert [p["type"] for p in json.loads(raw)["plugins"]] == ["bridge", "tuning"]


def test_default_networks_skip_system_namespaces(tmp_path: Path) -> None:
    kube = MemoryKube([nad("c", "kube-system", MACVLAN), nad("d1", "kube-system", MACVLAN)])
    r = resolver(kube, pod({}, "kube-system"), clusterNetwork="c", defaultNetworks=["d1"])
    assert [d.name for d in r.cluster_delegates()] == ["kube-system/c"]
    r2 = resolver(kube, pod({}, "dev"), clusterNetwork="c", defaultNetworks=["d1"])
    assert [d.name for d in r2.cluster_delegates()] == ["kube-system/c", "kube-system/d1"]


def test_empty_spec_resolves_to_conf_dir_file(tmp_path: Path) -> None:
    (tmp_path / "20-foo.conf").write_text(json.dumps({"cniVersion": "0.3.1", "name": "foo",
                                                      "type": "macvlan", "master": "eth0"}))
    kube = MemoryKube([nad("foo")])
    r = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "foo"}), confDir=str(tmp_path))
    assert json.loads(r.pod_delegates([])[0].raw)["type"] == "macvlan"


def test_invalid_nad_rejected_by_validator() -> None:
    bad = {"cniVersion": "0.3.1", "plugins": [{"type": "bridge"}, {"type": "a/b"}]}
    kube = MemoryKube([nad("bad", config=bad)])
    r = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "bad"}))
    with pytest.raises(MultusError, match="network-attachment-definition default/bad is invalid"):
        r.pod_delegates([])


def test_other_validator_errors_only_logged() -> None:
    odd = dict(MACVLAN, ipam={"type": "host-local", "subnet": "192.168.1.0/24",
                              "rangeStart": "10.0.0.1"})
    kube = MemoryKube([nad("odd", config=odd)])
    r = resolver(kube, pod({"k8s.v1.cni.cncf.io/networks": "odd"}))
    assert [d.name for d in r.pod_delegates([])] == ["default/odd"]


def test_uid_mismatch_and_static_pods() -> None:
    from multusctl.plugin.ports import SystemClock

    kube = MemoryKube([pod({})])
    args = K8sArgs(pod_namespace="default", pod_name="p", pod_uid="other")
    with pytest.raises(MultusError, match='expected pod UID "other" but got "u1"'):
        k8s.get_pod(kube, args, SystemClock(), NullLog(), is_del=False)
    assert k8s.get_pod(kube, args, SystemClock(), NullLog(), is_del=True) is None
    static = MemoryKube([pod({"kubernetes.io/config.source": "file"})])
    assert k8s.get_pod(static, args, SystemClock(), NullLog(), is_del=False) is not None
    assert k8s.get_pod(MemoryKube(), args, SystemClock(), NullLog(), is_del=False) is None
