"""The thick plugin against the real control plane: runtime → multus-shim → daemon.

Each scenario has a node network namespace (``tests/privileged/netns.py``); the daemon
(``multusctl daemon``) runs *inside* it, so the delegates it executes (bridge, macvlan,
host-local) build the node's links there and never touch this machine's own interfaces.
It reaches the API server through the world's forwarder, as the multus ServiceAccount,
with ``MULTUS_NODE_NAME`` set, so its pod watch is limited to the node. The runtime side
runs ``multus-shim`` (ours, or upstream's Go shim) in the node namespace like the thin
tests run ``multus``; results, network-status and leftovers are checked with the thin
tier's helpers (``thinlab``). The daemon and the world around it are ``thicklab``'s, shared
with the thick half of ``test_thin_plugin.py`` (the thin scenario set through shim +
daemon); this module holds what only the thick plugin has: API requests on warm caches,
daemon restarts and outages, a burst with an RSS bound, upstream's Go shim.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import controlplane
import pytest
import thinlab
from seeds import QUICKSTART_NAD, QUICKSTART_POD
from thicklab import SHIM, ThickWorld
from thinlab import Attachment, Dirs, Pod, check_status, nslab, run_failure

pytestmark = [pytest.mark.cluster, pytest.mark.privileged]

HERE = Path(__file__).resolve().parent
PREFIX = f"mct-{os.getpid()}-t"
GLOBAL_PATHS = (Path("/var/lib/cni"), Path("/etc/cni"), Path("/opt/cni"))
CLUSTER_SUBNET = "10.244.0.0/24"
#: Issue 8: daemon RSS after a burst.
RSS_LIMIT_MIB = 60
BURST = 50


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the thick cluster tests need root (network namespaces)", pytrace=False)


@pytest.fixture(autouse=True)
def _global_paths_untouched(require_root: None) -> Iterator[None]:
    before = {str(p): nslab.snapshot(p) for p in GLOBAL_PATHS}
    yield
    for p in GLOBAL_PATHS:
        assert nslab.snapshot(p) == before[str(p)], f"{p} changed"


@pytest.fixture
def lab(require_root: None) -> Iterator[nslab.Lab]:
    the_lab = nslab.Lab(PREFIX)
    yield the_lab
    errors = the_lab.teardown()
    assert not errors, f"namespace teardown failed: {errors}"


def _thick(cp: controlplane.ControlPlane, kubeconfig: Path, lab: nslab.Lab, root: Path,
           namespace: str, *, shim: Path = SHIM) -> ThickWorld:
    w = ThickWorld(cp=cp, kubeconfig=kubeconfig, lab=lab, node=lab.node(),
                   dirs=Dirs.make(root), namespace=namespace, multus_bin=shim)
    try:
        w.daemon.start()
    except BaseException:
        w.teardown()
        raise
    return w


@pytest.fixture
def thick(
    control_plane: controlplane.ControlPlane,
    multus_kubeconfig: Path,
    lab: nslab.Lab,
    tmp_path: Path,
    namespace: str,
) -> Iterator[ThickWorld]:
    w = _thick(control_plane, multus_kubeconfig, lab, tmp_path, namespace)
    yield w
    errors = w.teardown()
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert not errors, errors


def add_ok(w: ThickWorld, pod: Pod, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    res = w.add(pod, conf)
    assert res.rc == 0, f"ADD failed:\n{run_failure(res, w)}"
    assert isinstance(res.out, dict), res.stdout
    return res.out


def del_ok(w: ThickWorld, pod: Pod, conf: dict[str, Any] | None = None) -> None:
    res = w.delete(pod, conf)
    assert res.rc == 0, f"DEL failed:\n{run_failure(res, w)}"
    assert res.stdout.strip() == "", res.stdout


def quickstart_expected(w: ThickWorld) -> list[Attachment]:
    return [
        Attachment(thinlab.CLUSTER_NAME, "eth0", CLUSTER_SUBNET, default=True),
        Attachment(f"{w.namespace}/macvlan-conf", "net1", "192.168.1.0/24"),
    ]


# --------------------------------------------------------------------------- scenarios


def test_quickstart_samplepod(thick: ThickWorld) -> None:
    """Seed 000 through shim + daemon: the thin tier's result, status and events."""
    w = thick
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    out = add_ok(w, pod)
    assert out["cniVersion"] == thinlab.CLUSTER_VERSION
    assert nslab.in_subnet(out["ips"][0]["address"], CLUSTER_SUBNET), out
    entries = check_status(w, pod, quickstart_expected(w))
    assert thinlab.wait_for(
        lambda: len([e for e in w.events(pod) if e.get("reason") == "AddedInterface"]) == 2,
        timeout=10,
    ), w.events(pod)
    added = [e for e in w.events(pod) if e.get("reason") == "AddedInterface"]
    assert sorted(e["message"] for e in added) == [
        f"Add eth0 [{entries[0]['ips'][0]}/24] from {thinlab.CLUSTER_NAME}",
        f"Add net1 [{entries[1]['ips'][0]}/24] from {w.namespace}/macvlan-conf",
    ]
    raw = w.network_status(pod)
    del_ok(w, pod)
    assert w.leftovers() == [], w.daemon.tail()
    assert w.network_status(pod) == raw


def test_steady_state_add_makes_one_api_request(thick: ThickWorld) -> None:
    """Warm caches: the pod and NAD come from the watches; only the status PATCH is sent
    synchronously (events are posted in the background and counted apart)."""
    w = thick
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    first = w.create_pod(QUICKSTART_POD)
    add_ok(w, first)  # warms the connection pool
    second = w.create_pod({**thinlab.yaml_docs(QUICKSTART_POD)[0],
                           "metadata": {"name": "samplepod-2", "annotations": {
                               thinlab.NETWORKS: "macvlan-conf"}}})
    time.sleep(1.0)  # the pod watch has seen the new pod by now
    before = w.daemon.metric("multus_kube_api_requests")
    add_ok(w, second)
    after = w.daemon.metric("multus_kube_api_requests")
    sync_requests = after - before
    # 1 status PATCH + 2 AddedInterface events (posted asynchronously)
    assert sync_requests <= 3, sync_requests
    sys.stderr.write(f"\nthick ADD API requests (status + events): {sync_requests}\n")
    for pod in (first, second):
        del_ok(w, pod)
    assert w.leftovers() == [], w.daemon.tail()


def test_daemon_restart_mid_stream(thick: ThickWorld) -> None:
    """Pods added before a restart are DELed by the new daemon (scratch cache on disk)."""
    w = thick
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    before = w.create_pod(QUICKSTART_POD)
    add_ok(w, before)
    assert w.daemon.stop() == 0
    w.daemon.start()
    after = w.create_pod({**thinlab.yaml_docs(QUICKSTART_POD)[0],
                          "metadata": {"name": "after-restart", "annotations": {
                              thinlab.NETWORKS: "macvlan-conf"}}})
    add_ok(w, after)
    del_ok(w, before)
    del_ok(w, after)
    assert w.leftovers() == [], w.daemon.tail()


def test_daemon_down_during_del(thick: ThickWorld) -> None:
    """DEL while the daemon is gone fails with code 11 (delegates still cached), and the
    runtime's retry succeeds once the daemon is back; nothing leaks."""
    w = thick
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    add_ok(w, pod)
    w.daemon.kill()
    res = w.delete(pod)
    assert res.rc == 1, res.stdout
    err = json.loads(res.stdout)
    assert err["code"] == 11
    assert err["msg"].startswith("CmdDel (shim): Daemon not reachable over socketfile")
    assert (w.dirs.cni / pod.container_id).exists()
    w.daemon.start()
    del_ok(w, pod)
    assert w.leftovers() == [], w.daemon.tail()
    # a second DEL with the daemon gone has nothing cached: it succeeds
    w.daemon.kill()
    res = w.delete(pod)
    assert (res.rc, res.stdout.strip()) == (0, ""), res.stdout


@pytest.mark.timeout(1200)
def test_burst_of_concurrent_adds_then_dels(thick: ThickWorld) -> None:
    """A burst after a reboot: every ADD succeeds, every DEL cleans up, RSS stays bounded."""
    w = thick
    doc = thinlab.yaml_docs(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))[0]
    cfg = json.loads(doc["spec"]["config"])
    cfg["ipam"]["rangeStart"], cfg["ipam"]["rangeEnd"] = "192.168.1.2", "192.168.1.254"
    doc["spec"]["config"] = json.dumps(cfg)
    w.create_nads(json.dumps(doc))
    pods = [w.create_pod({**thinlab.yaml_docs(QUICKSTART_POD)[0],
                          "metadata": {"name": f"burst-{i}", "annotations": {
                              thinlab.NETWORKS: "macvlan-conf"}}})
            for i in range(BURST)]
    rss_before = w.daemon.rss_mib()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(w.add, pods))
    add_seconds = time.monotonic() - started
    failed = [run_failure(r, w) for r in results if r.rc != 0]
    assert not failed, failed[:3]
    rss_after = w.daemon.rss_mib()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(w.delete, pods))
    failed = [run_failure(r, w) for r in results if r.rc != 0]
    assert not failed, failed[:3]
    assert w.leftovers() == [], w.daemon.tail()
    sys.stderr.write(
        f"\nthick burst: {BURST} ADDs in {add_seconds:.1f}s "
        f"({BURST / add_seconds:.1f} pods/s), daemon RSS {rss_before:.1f} -> "
        f"{rss_after:.1f} MiB\n"
    )
    assert rss_after <= RSS_LIMIT_MIB, rss_after


def _upstream_shim() -> Path:
    out = subprocess.run([str(HERE / "build-upstream.sh"), "--print-bin-dir"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip().splitlines()[-1]) / "multus-shim"


def test_upstream_go_shim_against_our_daemon(thick: ThickWorld) -> None:
    """Wire compatibility: upstream's Go multus-shim (tests/cluster/build-upstream.sh)."""
    go_shim = _upstream_shim()
    if not os.access(go_shim, os.X_OK):
        pytest.fail(f"upstream multus-shim not built at {go_shim}: run "
                    "tests/cluster/build-upstream.sh", pytrace=False)
    w = thick
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    conf = w.shim_conf()
    added = w.run("ADD", conf, pod.container_id, pod.netns, "eth0", args=pod.cni_args,
                  plugin=go_shim)
    assert added.rc == 0, run_failure(added, w)
    assert isinstance(added.out, dict)
    assert added.out["cniVersion"] == thinlab.CLUSTER_VERSION
    check_status(w, pod, quickstart_expected(w))
    removed = w.run("DEL", conf, pod.container_id, pod.netns, "eth0", args=pod.cni_args,
                    plugin=go_shim)
    assert removed.rc == 0, run_failure(removed, w)
    assert w.leftovers() == [], w.daemon.tail()


# --------------------------------------------------------------------------- daemon config


def _macvlan(w: ThickWorld, octet: int, name: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "cniVersion": "0.3.1", "type": "macvlan", "master": nslab.NODE_UPLINK, "mode": "bridge",
        "ipam": {"type": "host-local", "subnet": f"192.168.{octet}.0/24",
                 "dataDir": str(w.dirs.ipam)},
    }
    if name is not None:
        conf["name"] = name
    return conf


def _nad(name: str, namespace: str, config: dict[str, Any] | None) -> str:
    return json.dumps({
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {} if config is None else {"config": json.dumps(config)},
    })


def _pod(name: str, networks: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": {thinlab.NETWORKS: networks}},
            "spec": {"containers": [{"name": "c", "image": "pause"}]}}


def test_daemon_config_overrides_request_config(thick: ThickWorld) -> None:
    """THK-10/11: the daemon config's Multus keys win over the request's. A request naming
    a dead kubeconfig and another cniDir/confDir is served with the daemon's client and
    directories (scratch cache in the daemon's cniDir, an empty-spec NAD's file found in
    the daemon's confDir); ``namespaceIsolation`` set only in the daemon config applies to
    a request whose config lacks it."""
    w = thick
    elsewhere = w.dirs.root / "elsewhere"
    (elsewhere / "cni").mkdir(parents=True)
    (elsewhere / "net.d").mkdir()
    w.create_nads(_nad("from-file", w.namespace, None))
    (w.conf_dir / "from-file.conf").write_text(json.dumps(_macvlan(w, 61, "from-file")))
    request = w.multus_conf(
        kubeconfig=str(thinlab.dead_kubeconfig(w)),
        cniDir=str(elsewhere / "cni"),
        confDir=str(elsewhere / "net.d"),
    )
    pod = w.create_pod(_pod("override", "from-file"))
    add_ok(w, pod, request)
    check_status(w, pod, [
        Attachment(thinlab.CLUSTER_NAME, "eth0", CLUSTER_SUBNET, default=True),
        Attachment(f"{w.namespace}/from-file", "net1", "192.168.61.0/24"),
    ])
    assert (w.dirs.cni / pod.container_id).is_file()
    assert [p for p in elsewhere.rglob("*") if p.is_file()] == []
    del_ok(w, pod, request)
    assert w.leftovers() == [], w.log_tail()

    assert "namespaceIsolation" not in w.conf
    assert w.daemon.stop() == 0
    w.daemon.extra = {"namespaceIsolation": True}
    w.daemon.start()
    other = f"o-{uuid.uuid4().hex[:10]}"
    w.kubectl("create", "namespace", other)
    try:
        w.create_nads(_nad("net-a", other, _macvlan(w, 62)))
        denied = w.create_pod(_pod("denied", f"{other}/net-a"))
        res = w.add(denied)
        assert res.rc == 1, run_failure(res, w)
        assert isinstance(res.out, dict), res.stdout
        assert res.out["msg"] == (
            f"CmdAdd (shim): Multus: [{denied.triple}]: error loading k8s delegates k8s args: "
            "TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: "
            "namespace isolation enabled, annotation violates permission, pod is in "
            f"namespace {w.namespace} but refers to target namespace {other}"
        ), res.out
        assert w.leftovers() == [], w.log_tail()
    finally:
        w.kubectl("delete", "namespace", other, "--wait=false", check=False)


# --------------------------------------------------------------------------- API outage


def test_daemon_started_while_api_unreachable(thick: ThickWorld) -> None:
    """The node reboots while the API server is down: the daemon starts with empty caches
    (their sync only logged as failed), a DEL of a pod it never saw is done from the scratch
    cache, and an ADD fails with a CNI error, not an internal one."""
    w = thick
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    add_ok(w, pod)
    check_status(w, pod, quickstart_expected(w))
    late = w.create_pod(_pod("late", "macvlan-conf"))
    assert w.daemon.stop() == 0
    dead = w.cut_api()
    w.daemon.start()
    assert "failed to sync the pod informer cache" in w.daemon.log.read_text(), w.daemon.tail()
    began = time.monotonic()
    res = w.delete(pod, dead)
    elapsed = time.monotonic() - began
    assert (res.rc, res.stdout.strip()) == (0, ""), run_failure(res, w)
    assert elapsed < 15, f"DEL took {elapsed:.1f}s with the API server unreachable"
    assert w.leftovers() == [], w.log_tail()
    again = w.delete(pod, dead)
    assert (again.rc, again.stdout.strip()) == (0, ""), run_failure(again, w)
    added = w.add(late, dead)
    assert added.rc == 1, run_failure(added, w)
    assert isinstance(added.out, dict), added.stdout
    assert added.out["msg"].startswith(f"CmdAdd (shim): Multus: [{late.triple}]: "), added.out
    assert "internal error" not in w.daemon.log.read_text(), w.daemon.tail()
    assert w.leftovers() == [], w.log_tail()
