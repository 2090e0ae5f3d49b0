"""The thick plugin against the real control plane: runtime → multus-shim → daemon.

Each scenario has a node network namespace (``tests/privileged/netns.py``); the daemon
(``multusctl daemon``) runs *inside* it, so the delegates it executes (bridge, macvlan,
host-local) build the node's links there and never touch this machine's own interfaces.
It reaches the API server through the world's forwarder, as the multus ServiceAccount,
with ``MULTUS_NODE_NAME`` set, so its pod watch is limited to the node. The runtime side
runs ``multus-shim`` (ours, or upstream's Go shim) in the node namespace like the thin
tests run ``multus``; results, network-status and leftovers are checked with the thin
tier's helpers (``thinlab``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import controlplane
import pytest
import thinlab
from seeds import QUICKSTART_NAD, QUICKSTART_POD
from thinlab import Attachment, Dirs, Pod, ThinWorld, check_status, nslab, run_failure

pytestmark = [pytest.mark.cluster, pytest.mark.privileged]

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SHIM = Path(os.environ.get("MULTUS_SHIM_BIN") or BIN / "multus-shim")
MULTUSCTL = BIN / "multusctl"
PREFIX = f"mct-{os.getpid()}-t"
GLOBAL_PATHS = (Path("/var/lib/cni"), Path("/etc/cni"), Path("/opt/cni"))
CLUSTER_SUBNET = "10.244.0.0/24"
#: Issue 8: daemon RSS after a burst.
RSS_LIMIT_MIB = 60
BURST = 50




# --------------------------------------------------------------------------- the daemon


@dataclass
class ThickDaemon:
    """``multusctl daemon`` running inside the node namespace."""

    world: ThinWorld
    root: Path
    metrics_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    def config(self) -> dict[str, Any]:
        w = self.world
        user_conf = self.root / "70-multus.conf"
        user_conf.write_text(json.dumps(w.conf))
        return {
            "socketDir": str(self.socket_dir),
            "kubeconfig": str(w.kubeconfig),
            "multusConfigFile": str(user_conf),
            "cniConfigDir": str(self.root / "net.d"),
            "cniDir": str(w.dirs.cni),
            "confDir": str(w.conf_dir),
            "binDir": thinlab.CNI_BIN_DIR,
            "logFile": str(self.log),
            "logLevel": "verbose",
            "metricsPort": self.metrics_port,
            "shutdownDelaySeconds": 0,
        }

    def start(self) -> None:
        (self.root / "net.d").mkdir(parents=True, exist_ok=True)
        path = self.root / "daemon-config.json"
        path.write_text(json.dumps(self.config()))
        env = {**os.environ, "MULTUS_NODE_NAME": thinlab.NODE_NAME}
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.world.node.name, str(MULTUSCTL), "daemon",
             "--config", str(path)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        sock = self.socket_dir / "multus.sock"
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, f"daemon exited {self.proc.returncode}: {self.tail()}"
            if sock.exists() and _healthz(sock):
                return
            assert time.monotonic() < deadline, self.tail()
            time.sleep(0.1)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        code = self.proc.wait(60)
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def metric(self, name: str) -> float:
        out = self.world.node.exec(
            [sys.executable, "-c",
             f"import urllib.request;print(urllib.request.urlopen("
             f"'http://127.0.0.1:{self.metrics_port}/metrics',timeout=10).read().decode())"],
        ).stdout.decode()
        for line in out.splitlines():
            if line.startswith((name + " ", name + "{")):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"metric {name} not found")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no daemon log)"


def _healthz(sock: Path) -> bool:
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(str(sock))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(32).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


@dataclass
class Thick:
    world: ThinWorld
    daemon: ThickDaemon

    def shim_conf(self, **extra: Any) -> dict[str, Any]:
        conf = dict(self.world.conf)
        conf["type"] = "multus-shim"
        conf["daemonSocketDir"] = str(self.daemon.socket_dir)
        conf.update(extra)
        return conf

    def add(self, pod: Pod, conf: dict[str, Any] | None = None) -> nslab.CniRun:
        return self.world.add(pod, conf or self.shim_conf())

    def delete(self, pod: Pod, conf: dict[str, Any] | None = None) -> nslab.CniRun:
        return self.world.delete(pod, conf or self.shim_conf())


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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _thick(cp: controlplane.ControlPlane, kubeconfig: Path, lab: nslab.Lab, root: Path,
           namespace: str, *, shim: Path = SHIM) -> Thick:
    world = ThinWorld(cp=cp, kubeconfig=kubeconfig, lab=lab, node=lab.node(),
                      dirs=Dirs.make(root), namespace=namespace, multus_bin=shim)
    daemon = ThickDaemon(world, root / "thick", _free_port())
    daemon.start()
    return Thick(world, daemon)


@pytest.fixture
def thick(
    control_plane: controlplane.ControlPlane,
    multus_kubeconfig: Path,
    lab: nslab.Lab,
    tmp_path: Path,
    namespace: str,
) -> Iterator[Thick]:
    t = _thick(control_plane, multus_kubeconfig, lab, tmp_path, namespace)
    yield t
    if t.daemon.proc is not None:
        assert t.daemon.stop() == 0, t.daemon.tail()
    errors = t.world.teardown()
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert not errors, errors


def add_ok(t: Thick, pod: Pod, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    res = t.add(pod, conf)
    assert res.rc == 0, f"ADD failed:\n{run_failure(res, t.world)}\n{t.daemon.tail()}"
    assert isinstance(res.out, dict), res.stdout
    return res.out


def del_ok(t: Thick, pod: Pod, conf: dict[str, Any] | None = None) -> None:
    res = t.delete(pod, conf)
    assert res.rc == 0, f"DEL failed:\n{run_failure(res, t.world)}\n{t.daemon.tail()}"
    assert res.stdout.strip() == "", res.stdout


def quickstart_expected(t: Thick) -> list[Attachment]:
    return [
        Attachment(thinlab.CLUSTER_NAME, "eth0", CLUSTER_SUBNET, default=True),
        Attachment(f"{t.world.namespace}/macvlan-conf", "net1", "192.168.1.0/24"),
    ]


# --------------------------------------------------------------------------- scenarios


def test_quickstart_samplepod(thick: Thick) -> None:
    """Seed 000 through shim + daemon: the thin tier's result, status and events."""
    t, w = thick, thick.world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    out = add_ok(t, pod)
    assert out["cniVersion"] == thinlab.CLUSTER_VERSION
    assert nslab.in_subnet(out["ips"][0]["address"], CLUSTER_SUBNET), out
    entries = check_status(w, pod, quickstart_expected(t))
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
    del_ok(t, pod)
    assert w.leftovers() == [], t.daemon.tail()
    assert w.network_status(pod) == raw


def test_steady_state_add_makes_one_api_request(thick: Thick) -> None:
    """Warm caches: the pod and NAD come from the watches; only the status PATCH is sent
    synchronously (events are posted in the background and counted apart)."""
    t, w = thick, thick.world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    first = w.create_pod(QUICKSTART_POD)
    add_ok(t, first)  # warms the connection pool
    second = w.create_pod({**thinlab.yaml_docs(QUICKSTART_POD)[0],
                           "metadata": {"name": "samplepod-2", "annotations": {
                               thinlab.NETWORKS: "macvlan-conf"}}})
    time.sleep(1.0)  # the pod watch has seen the new pod by now
    before = t.daemon.metric("multus_kube_api_requests")
    add_ok(t, second)
    after = t.daemon.metric("multus_kube_api_requests")
    sync_requests = after - before
    # 1 status PATCH + 2 AddedInterface events (posted asynchronously)
    assert sync_requests <= 3, sync_requests
    sys.stderr.write(f"\nthick ADD API requests (status + events): {sync_requests}\n")
    for pod in (first, second):
        del_ok(t, pod)
    assert w.leftovers() == [], t.daemon.tail()


def test_daemon_restart_mid_stream(thick: Thick) -> None:
    """Pods added before a restart are DELed by the new daemon (scratch cache on disk)."""
    t, w = thick, thick.world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    before = w.create_pod(QUICKSTART_POD)
    add_ok(t, before)
    assert t.daemon.stop() == 0
    t.daemon.start()
    after = w.create_pod({**thinlab.yaml_docs(QUICKSTART_POD)[0],
                          "metadata": {"name": "after-restart", "annotations": {
                              thinlab.NETWORKS: "macvlan-conf"}}})
    add_ok(t, after)
    del_ok(t, before)
    del_ok(t, after)
    assert w.leftovers() == [], t.daemon.tail()


def test_daemon_down_during_del(thick: Thick) -> None:
    """DEL while the daemon is gone fails with code 11 (delegates still cached), and the
    runtime's retry succeeds once the daemon is back; nothing leaks."""
    t, w = thick, thick.world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    add_ok(t, pod)
    t.daemon.kill()
    res = t.delete(pod)
    assert res.rc == 1, res.stdout
    err = json.loads(res.stdout)
    assert err["code"] == 11
    assert err["msg"].startswith("CmdDel (shim): Daemon not reachable over socketfile")
    assert (w.dirs.cni / pod.container_id).exists()
    t.daemon.start()
    del_ok(t, pod)
    assert w.leftovers() == [], t.daemon.tail()
    # a second DEL with the daemon gone has nothing cached: it succeeds
    t.daemon.kill()
    res = t.delete(pod)
    assert (res.rc, res.stdout.strip()) == (0, ""), res.stdout


@pytest.mark.timeout(1200)
def test_burst_of_concurrent_adds_then_dels(thick: Thick) -> None:
    """A burst after a reboot: every ADD succeeds, every DEL cleans up, RSS stays bounded."""
    t, w = thick, thick.world
    doc = thinlab.yaml_docs(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))[0]
    cfg = json.loads(doc["spec"]["config"])
    cfg["ipam"]["rangeStart"], cfg["ipam"]["rangeEnd"] = "192.168.1.2", "192.168.1.254"
    doc["spec"]["config"] = json.dumps(cfg)
    w.create_nads(json.dumps(doc))
    pods = [w.create_pod({**thinlab.yaml_docs(QUICKSTART_POD)[0],
                          "metadata": {"name": f"burst-{i}", "annotations": {
                              thinlab.NETWORKS: "macvlan-conf"}}})
            for i in range(BURST)]
    rss_before = t.daemon.rss_mib()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(t.add, pods))
    add_seconds = time.monotonic() - started
    failed = [run_failure(r, w) for r in results if r.rc != 0]
    assert not failed, failed[:3]
    rss_after = t.daemon.rss_mib()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(t.delete, pods))
    failed = [run_failure(r, w) for r in results if r.rc != 0]
    assert not failed, failed[:3]
    assert w.leftovers() == [], t.daemon.tail()
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


def test_upstream_go_shim_against_our_daemon(thick: Thick) -> None:
    """Wire compatibility: upstream's Go multus-shim (tests/cluster/build-upstream.sh)."""
    go_shim = _upstream_shim()
    if not os.access(go_shim, os.X_OK):
        pytest.fail(f"upstream multus-shim not built at {go_shim}: run "
                    "tests/cluster/build-upstream.sh", pytrace=False)
    t, w = thick, thick.world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    conf = t.shim_conf()
    added = w.run("ADD", conf, pod.container_id, pod.netns, "eth0", args=pod.cni_args,
                  plugin=go_shim)
    assert added.rc == 0, f"{run_failure(added, w)}\n{t.daemon.tail()}"
    assert isinstance(added.out, dict)
    assert added.out["cniVersion"] == thinlab.CLUSTER_VERSION
    check_status(w, pod, quickstart_expected(t))
    removed = w.run("DEL", conf, pod.container_id, pod.netns, "eth0", args=pod.cni_args,
                    plugin=go_shim)
    assert removed.rc == 0, run_failure(removed, w)
    assert w.leftovers() == [], t.daemon.tail()
