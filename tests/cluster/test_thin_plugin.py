"""The thin plugin (Kubernetes mode) against the real control plane, end to end.

Every scenario creates its pods as API objects bound to a node (``spec.nodeName``) and runs
the ``multus`` executable exactly as a runtime does: inside a node network namespace, with
the CNI environment and the config on stdin, authenticated as the ``multus``
ServiceAccount (the manifests' RBAC, nothing more). The delegates are Debian's reference
plugins (bridge, macvlan, host-local, static). After ADD the network-status annotation is
read back with ``kubectl`` and compared with ``ip -j`` inside the pod namespace, and
``multusctl explain`` is compared with what ADD did; after DEL nothing may be left.

The seed documents' YAML is used verbatim; only the macvlan ``master`` (the node
namespace's ``eth0``) and host-local's ``dataDir`` (a tmp dir) are changed, and the pods
get ``spec.nodeName``.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import controlplane
import kubeobjects
import manifests
import pytest
import thicklab
import thinlab
from kubernetes import client
from seeds import QUICKSTART_NAD, QUICKSTART_POD
from thicklab import ThickWorld
from thinlab import (
    Attachment,
    Dirs,
    Pod,
    ThinWorld,
    check_explain,
    check_status,
    nslab,
    run_failure,
)

pytestmark = [pytest.mark.cluster, pytest.mark.privileged]

GLOBAL_PATHS = (Path("/var/lib/cni"), Path("/etc/cni"), Path("/opt/cni"))
PREFIX = f"mct-{os.getpid()}-k"
TESTNS1 = "testns1"  # the namespace named in how-to-use pod-case-02/05
CLUSTER_SUBNET = "10.244.0.0/24"
RESULTS_FILE = Path(os.environ.get("THIN_PLUGIN_COUNTS", "/tmp/thin-plugin-request-counts.json"))

# --------------------------------------------------------------------------- seed YAML
# Verbatim from /work/shared/seeds (000 quickstart, 001 how-to-use, 002 tutorial, 004
# example); 004's network-attachment-definition.yaml is not part of the seed, so that NAD
# is written here (macvlan on eth0 with static IPAM, which the example's `ips` needs).



QUICKSTART_POD_TWICE = """\
apiVersion: v1
kind: Pod
metadata:
  name: samplepod
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-conf,macvlan-conf
spec:
  containers:
  - name: samplepod
    command: ["/bin/ash", "-c", "trap : TERM INT; sleep infinity & wait"]
    image: alpine
"""

TUTORIAL_VANILLA_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: vanillapod
spec:
  containers:
  - name: vanillapod
    command: ["/bin/bash", "-c", "sleep 2000000000000"]
    image: dougbtv/centos-network
"""

TUTORIAL_MULTI_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: multipod
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-conf
spec:
  containers:
  - name: multipod
    command: ["/bin/bash", "-c", "sleep 2000000000000"]
    image: dougbtv/centos-network
"""

HOWTO_NAD_1 = """\
apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf-1
spec:
  config: '{
            "cniVersion": "0.3.0",
            "type": "macvlan",
            "master": "eth1",
            "mode": "bridge",
            "ipam": {
                "type": "host-local",
                "ranges": [
                    [ {
                         "subnet": "10.10.0.0/16",
                         "rangeStart": "10.10.1.20",
                         "rangeEnd": "10.10.3.50",
                         "gateway": "10.10.0.254"
                    } ]
                ]
            }
        }'
"""

HOWTO_NAD_2 = """\
apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf-2
"""

HOWTO_FILE_2 = """\
{
  "cniVersion": "0.3.0",
  "type": "macvlan",
  "name": "macvlan-conf-2",
  "master": "eth1",
  "mode": "bridge",
  "ipam": {
      "type": "host-local",
      "ranges": [
          [ {
               "subnet": "11.10.0.0/16",
               "rangeStart": "11.10.1.20",
               "rangeEnd": "11.10.3.50"
          } ]
      ]
  }
}
"""

HOWTO_NAD_3 = """\
apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf-3
  namespace: testns1
spec:
  config: '{
            "cniVersion": "0.3.0",
            "type": "macvlan",
            "master": "eth1",
            "mode": "bridge",
            "ipam": {
                "type": "host-local",
                "ranges": [
                    [ {
                         "subnet": "12.10.0.0/16",
                         "rangeStart": "12.10.1.20",
                         "rangeEnd": "12.10.3.50"
                    } ]
                ]
            }
        }'
"""

HOWTO_PODS = {
    "pod-case-01": """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-case-01
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-conf-1, macvlan-conf-2
spec:
  containers:
  - name: pod-case-01
    image: docker.io/centos/tools:latest
    command:
    - /sbin/init
""",
    "pod-case-02": """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-case-02
  annotations:
    k8s.v1.cni.cncf.io/networks: testns1/macvlan-conf-3
spec:
  containers:
  - name: pod-case-02
    image: docker.io/centos/tools:latest
    command:
    - /sbin/init
""",
    "pod-case-03": """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-case-03
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-conf-1@macvlan1
spec:
  containers:
  - name: pod-case-03
    image: docker.io/centos/tools:latest
    command:
    - /sbin/init
""",
    "pod-case-04": """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-case-04
  annotations:
    k8s.v1.cni.cncf.io/networks: '[
            { "name" : "macvlan-conf-1" },
            { "name" : "macvlan-conf-2" }
    ]'
spec:
  containers:
  - name: pod-case-04
    image: docker.io/centos/tools:latest
    command:
    - /sbin/init
""",
    "pod-case-05": """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-case-05
  annotations:
    k8s.v1.cni.cncf.io/networks: '[
            { "name" : "macvlan-conf-1",
              "namespace": "testns1" }
    ]'
spec:
  containers:
  - name: pod-case-05
    image: docker.io/centos/tools:latest
    command:
    - /sbin/init
""",
    "pod-case-06": """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-case-06
  annotations:
    k8s.v1.cni.cncf.io/networks: '[
            { "name" : "macvlan-conf-1",
              "interface": "macvlan1" },
            { "name" : "macvlan-conf-2" }
    ]'
spec:
  containers:
  - name: pod-case-06
    image: docker.io/centos/tools:latest
    command:
    - /sbin/init
""",
}

DEFAULT_ROUTE_NAD = """\
apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf
spec:
  config: '{
      "cniVersion": "0.3.0",
      "type": "macvlan",
      "master": "eth0",
      "mode": "bridge",
      "ipam": {
        "type": "host-local",
        "subnet": "192.168.2.0/24",
        "rangeStart": "192.168.2.200",
        "rangeEnd": "192.168.2.216",
        "routes": [
          { "dst": "0.0.0.0/0" }
        ],
        "gateway": "192.168.2.1"
      }
    }'
"""

DEFAULT_ROUTE_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: samplepod
  annotations:
    k8s.v1.cni.cncf.io/networks: '[{
      "name": "macvlan-conf",
      "default-route": ["192.168.2.1"]
    }]'
spec:
  containers:
  - name: samplepod
    command: ["/bin/bash", "-c", "trap : TERM INT; sleep infinity & wait"]
    image: dougbtv/centos-network
"""

STATIC_NAD = """\
apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf
spec:
  config: '{
      "cniVersion": "0.3.0",
      "type": "macvlan",
      "capabilities": { "ips": true },
      "master": "eth0",
      "mode": "bridge",
      "ipam": {
        "type": "static"
      }
    }'
"""

# seed 004's server annotation, verbatim (split only to fit the line length)
SERVER_ANNOTATION = (
    """'[ { "name": "macvlan-conf", "interface": "my-intf", "ips": [ "192.168.1.88/24" ], """
    """"gateway": [ "192.168.1.254" ] } ]'"""
)
CLIENT_ANNOTATION = (
    """'[ { "name": "macvlan-conf", "interface": "my-intf", "ips": [ "192.168.1.89/24" ] } ]'"""
)

SERVER_POD = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: server
  annotations:
    k8s.v1.cni.cncf.io/networks: {SERVER_ANNOTATION}
spec:
  containers:
  - name: server
    image: python:3
    command: ["python3", "-m", "http.server", "--bind", "192.168.1.88", "80"]
"""

CLIENT_POD = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: client
  annotations:
    k8s.v1.cni.cncf.io/networks: {CLIENT_ANNOTATION}
spec:
  containers:
  - name: client
    image: curlimages/curl
    command: ["curl", "http://192.168.1.88"]
"""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the thin-plugin cluster tests need root (network namespaces)", pytrace=False)


@pytest.fixture(scope="module")
def multus_bin(require_root: None) -> Path:
    path = Path(os.environ.get("MULTUS_BIN") or Path(sys.executable).parent / "multus")
    if not os.access(path, os.X_OK):
        pytest.fail(f"the multus executable is missing at {path}", pytrace=False)
    return path


@pytest.fixture(autouse=True)
def _global_paths_untouched(require_root: None) -> Iterator[None]:
    """The node's real CNI directories are never written (leases and caches go to tmp)."""
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


MODES = ("thin", "thick")


def _make_world(
    cp: controlplane.ControlPlane,
    kubeconfig: Path,
    lab: nslab.Lab,
    root: Path,
    *,
    namespace: str,
    multus_bin: Path,
    mode: str = "thin",
) -> ThinWorld:
    """A thin world (the runtime runs ``multus``), or a thick one (the runtime runs
    ``multus-shim``; ``multusctl daemon`` is started in the node namespace)."""
    common: dict[str, Any] = {
        "cp": cp,
        "kubeconfig": kubeconfig,
        "lab": lab,
        "node": lab.node(),
        "dirs": Dirs.make(root),
        "namespace": namespace,
    }
    if mode == "thin":
        return ThinWorld(multus_bin=multus_bin, **common)
    assert mode == "thick", mode
    if not os.access(thicklab.SHIM, os.X_OK):
        pytest.fail(f"the multus-shim executable is missing at {thicklab.SHIM}", pytrace=False)
    w = ThickWorld(multus_bin=thicklab.SHIM, thin_bin=multus_bin, **common)
    try:
        w.daemon.start()
    except BaseException:
        w.teardown()
        raise
    return w


@pytest.fixture(params=MODES)
def world(  # noqa: PLR0917 - pytest fixtures take their dependencies positionally
    request: pytest.FixtureRequest,
    control_plane: controlplane.ControlPlane,
    multus_kubeconfig: Path,
    lab: nslab.Lab,
    tmp_path: Path,
    namespace: str,
    multus_bin: Path,
) -> Iterator[ThinWorld]:
    """Each scenario runs twice: ``thin`` (runtime → ``multus``) and ``thick`` (runtime →
    ``multus-shim`` → ``multusctl daemon`` in the node namespace), same checks."""
    w = _make_world(
        control_plane,
        multus_kubeconfig,
        lab,
        tmp_path,
        namespace=namespace,
        multus_bin=multus_bin,
        mode=request.param,
    )
    yield w
    errors = w.teardown()
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert not errors, errors


@pytest.fixture(scope="module")
def testns1(admin_api: client.ApiClient, applied_manifests: str) -> Iterator[str]:
    """The ``testns1`` namespace the how-to-use guide refers to by name."""
    core = client.CoreV1Api(admin_api)
    names = {n.metadata.name for n in core.list_namespace().items if n.metadata}
    created = TESTNS1 not in names
    if created:
        kubeobjects.create_namespace(admin_api, TESTNS1)
    yield TESTNS1
    if created:
        kubeobjects.delete_namespace(admin_api, TESTNS1)


@pytest.fixture
def other_namespace(admin_api: client.ApiClient, applied_manifests: str) -> Iterator[str]:
    name = f"o-{uuid.uuid4().hex[:10]}"
    kubeobjects.create_namespace(admin_api, name)
    yield name
    kubeobjects.delete_namespace(admin_api, name)


# --------------------------------------------------------------------------- helpers


def add_ok(w: ThinWorld, pod: Pod, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    res = w.add(pod, conf)
    assert res.rc == 0, f"ADD failed:\n{run_failure(res, w)}"
    assert isinstance(res.out, dict), res.stdout
    return res.out


def del_ok(w: ThinWorld, pod: Pod, conf: dict[str, Any] | None = None) -> None:
    res = w.delete(pod, conf)
    assert res.rc == 0, f"DEL failed:\n{run_failure(res, w)}"
    assert res.stdout.strip() == "", res.stdout


def full_cycle(
    w: ThinWorld, pod: Pod, expected: list[Attachment], conf: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """ADD, status vs netns, explain vs ADD, DEL, nothing left, status kept after DEL."""
    out = add_ok(w, pod, conf)
    master = expected[0]
    assert [i["name"] for i in out.get("interfaces", []) if i.get("sandbox")] == [
        master.interface
    ], out
    entries = check_status(w, pod, expected)
    check_explain(w, pod, entries, conf)
    raw = w.network_status(pod)
    del_ok(w, pod, conf)
    assert w.leftovers([pod]) == [], w.log_tail()
    assert w.network_status(pod) == raw, "DEL must not rewrite the network-status"
    return entries


def cluster(default: bool = True, name: str = thinlab.CLUSTER_NAME) -> Attachment:
    return Attachment(name, "eth0", CLUSTER_SUBNET, default=default)


# --------------------------------------------------------------------------- seeds


CLUSTER_FORMS = ["delegates", "nad", "conf-name", "directory", "file"]


def _cluster_network(w: ThinWorld, form: str) -> tuple[dict[str, Any], str]:
    """A Multus config whose cluster network is given in ``form``; returns (conf, name)."""
    if form == "delegates":
        return w.conf, thinlab.CLUSTER_NAME
    if form == "nad":
        name = f"cbr0-{uuid.uuid4().hex[:8]}"
        body = json.dumps({k: v for k, v in w.cluster_conf().items() if k != "name"})
        doc = {
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": manifests.MULTUS_NAMESPACE},
            "spec": {"config": body},
        }
        w.create_nads(json.dumps(doc))
        return w.multus_conf(clusterNetwork=name), f"{manifests.MULTUS_NAMESPACE}/{name}"
    text = json.dumps(w.cluster_conf(), indent=2)
    if form == "conf-name":
        (w.conf_dir / "10-cbr0.conf").write_text(text)
        return w.multus_conf(clusterNetwork=thinlab.CLUSTER_NAME), thinlab.CLUSTER_NAME
    directory = w.dirs.root / "cluster.d"
    directory.mkdir()
    (directory / "10-cbr0.conf").write_text(text)
    value = str(directory) if form == "directory" else str(directory / "10-cbr0.conf")
    return w.multus_conf(clusterNetwork=value), thinlab.CLUSTER_NAME


@pytest.mark.parametrize("form", CLUSTER_FORMS)
def test_quickstart_samplepod(world: ThinWorld, form: str) -> None:
    """Seed 000: macvlan-conf + samplepod (`macvlan-conf`), with each clusterNetwork form."""
    w = world
    conf, cluster_name = _cluster_network(w, form)
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    expected = [
        cluster(name=cluster_name),
        Attachment(f"{w.namespace}/macvlan-conf", "net1", "192.168.1.0/24"),
    ]
    out = add_ok(w, pod, conf)
    assert nslab.in_subnet(out["ips"][0]["address"], CLUSTER_SUBNET), out
    entries = check_status(w, pod, expected)
    check_explain(w, pod, entries, conf)
    # CORE-19: one AddedInterface event per attachment, from component multus (the
    # daemon posts them from a background thread: wait for them).
    def added_events() -> list[dict[str, Any]]:
        return [e for e in w.events(pod) if e.get("reason") == "AddedInterface"]

    assert thinlab.wait_for(lambda: len(added_events()) >= 2, timeout=10), w.events(pod)
    added = added_events()
    assert sorted(e["message"] for e in added) == [
        f"Add eth0 [{entries[0]['ips'][0]}/24] from {cluster_name}",
        f"Add net1 [{entries[1]['ips'][0]}/24] from {w.namespace}/macvlan-conf",
    ]
    assert [e["type"] for e in added] == ["Normal", "Normal"]
    assert {e["source"]["component"] for e in added} == {"multus"}
    raw = w.network_status(pod)
    del_ok(w, pod, conf)
    assert w.leftovers() == [], w.log_tail()
    assert w.network_status(pod) == raw


def test_quickstart_samplepod_twice(world: ThinWorld) -> None:
    """Seed 000: `macvlan-conf,macvlan-conf` gives net1 and net2 on the same NAD."""
    w = world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD_TWICE)
    nad = f"{w.namespace}/macvlan-conf"
    entries = full_cycle(
        w,
        pod,
        [
            cluster(),
            Attachment(nad, "net1", "192.168.1.0/24"),
            Attachment(nad, "net2", "192.168.1.0/24"),
        ],
    )
    assert entries[1]["ips"] != entries[2]["ips"]
    assert entries[1]["mac"] != entries[2]["mac"]


def test_tutorial_vanilla_and_multipod(world: ThinWorld) -> None:
    """Seed 002: a pod without annotation gets only eth0; `multipod` gets eth0 + net1."""
    w = world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    vanilla = w.create_pod(TUTORIAL_VANILLA_POD)
    full_cycle(w, vanilla, [cluster()])
    multi = w.create_pod(TUTORIAL_MULTI_POD)
    full_cycle(
        w, multi, [cluster(), Attachment(f"{w.namespace}/macvlan-conf", "net1", "192.168.1.0/24")]
    )


HOWTO_EXPECTED: dict[str, list[tuple[str, str, str]]] = {
    # pod → [(nad namespace ("" = the pod's), nad, ifname, subnet)]
    "pod-case-01": [("", "macvlan-conf-1", "net1"), ("", "macvlan-conf-2", "net2")],
    "pod-case-02": [(TESTNS1, "macvlan-conf-3", "net1")],
    "pod-case-03": [("", "macvlan-conf-1", "macvlan1")],
    "pod-case-04": [("", "macvlan-conf-1", "net1"), ("", "macvlan-conf-2", "net2")],
    "pod-case-05": [(TESTNS1, "macvlan-conf-1", "net1")],
    "pod-case-06": [("", "macvlan-conf-1", "macvlan1"), ("", "macvlan-conf-2", "net2")],
}
HOWTO_SUBNETS = {
    "macvlan-conf-1": "10.10.0.0/16",
    "macvlan-conf-2": "11.10.0.0/16",
    "macvlan-conf-3": "12.10.0.0/16",
}


@pytest.mark.parametrize("case", sorted(HOWTO_PODS))
def test_how_to_use_pod_cases(world: ThinWorld, testns1: str, case: str) -> None:
    """Seed 001: pod-case-01…06 (text, namespaced, @ifname, JSON, JSON namespace/interface)
    with macvlan-conf-1 (spec.config), macvlan-conf-2 (empty spec → file in confDir) and
    testns1/macvlan-conf-3."""
    w = world
    ipam = w.dirs.ipam
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_1, ipam))
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_2, ipam))
    (w.conf_dir / "macvlan2.conf").write_text(thinlab.seed_nad_text(HOWTO_FILE_2, ipam))
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_3, ipam))
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_1, ipam), namespace=testns1)
    pod = w.create_pod(HOWTO_PODS[case])
    expected = [cluster()] + [
        Attachment(f"{ns or w.namespace}/{nad}", ifname, HOWTO_SUBNETS[nad])
        for ns, nad, ifname in HOWTO_EXPECTED[case]
    ]
    full_cycle(w, pod, expected)


def test_default_route_example(world: ThinWorld) -> None:
    """Seed 001 "default route for a specific attachment": `default via 192.168.2.1 dev
    net1`, and the cluster network's default route is gone from the pod."""
    w = world
    cluster_conf = w.cluster_conf()
    cluster_conf["ipam"]["routes"] = [{"dst": "0.0.0.0/0"}]
    conf = w.multus_conf(delegates=[cluster_conf])
    w.create_nads(thinlab.seed_nad_text(DEFAULT_ROUTE_NAD, w.dirs.ipam))
    pod = w.create_pod(DEFAULT_ROUTE_POD)
    add_ok(w, pod, conf)
    entries = check_status(
        w, pod, [cluster(), Attachment(f"{w.namespace}/macvlan-conf", "net1", "192.168.2.0/24")]
    )
    defaults = [r for r in nslab.routes(pod.netns) if r.get("dst") == "default"]
    assert [(r.get("gateway"), r.get("dev")) for r in defaults] == [("192.168.2.1", "net1")]
    assert entries[1].get("gateway") == ["192.168.2.1"], entries[1]
    check_explain(w, pod, entries, conf)
    # the libcni result cache of eth0 no longer carries the removed default route
    cached = json.loads(
        (w.dirs.cni / "results" / f"{thinlab.CLUSTER_NAME}-{pod.container_id}-eth0").read_text()
    )
    assert not [r for r in cached["result"].get("routes", []) if r["dst"] == "0.0.0.0/0"]
    del_ok(w, pod, conf)
    assert w.leftovers() == [], w.log_tail()


def _http_server(netns: str, address: str, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            netns,
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            address,
            "--directory",
            str(root),
            "8080",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


FETCH = """\
import sys, time, urllib.request
deadline = time.monotonic() + 10
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
            sys.stdout.write(r.read().decode())
        break
    except OSError as e:
        if time.monotonic() > deadline:
            raise SystemExit(f"fetch failed: {e}")
        time.sleep(0.2)
"""


def test_static_ip_traffic_example(world: ThinWorld) -> None:
    """Seed 004: `server` gets my-intf 192.168.1.88/24 and serves HTTP on it; `client`
    fetches from it over its own macvlan attachment on the same master."""
    w = world
    w.create_nads(thinlab.seed_nad_text(STATIC_NAD, w.dirs.ipam))
    server = w.create_pod(SERVER_POD)
    client_pod = w.create_pod(CLIENT_POD)
    nad = f"{w.namespace}/macvlan-conf"
    add_ok(w, server)
    add_ok(w, client_pod)
    s_entries = check_status(
        w, server, [cluster(), Attachment(nad, "my-intf", ips=("192.168.1.88/24",))]
    )
    c_entries = check_status(
        w, client_pod, [cluster(), Attachment(nad, "my-intf", ips=("192.168.1.89/24",))]
    )
    assert s_entries[1]["ips"] == ["192.168.1.88"]
    check_explain(w, server, s_entries)
    check_explain(w, client_pod, c_entries)
    docroot = w.dirs.root / "www"
    docroot.mkdir()
    marker = f"multus-seed-004 {uuid.uuid4()}"
    (docroot / "index.html").write_text(marker)
    proc = _http_server(server.netns, "192.168.1.88", docroot)
    try:
        fetched = nslab.run(
            [sys.executable, "-c", FETCH, "http://192.168.1.88:8080/"],
            netns=client_pod.netns,
            check=False,
            timeout=30,
        )
    finally:
        proc.terminate()
        try:
            log, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            log, _ = proc.communicate(timeout=10)
    assert fetched.returncode == 0, fetched.stderr.decode()
    assert fetched.stdout.decode() == marker
    # the request reached the server from the client's my-intf address
    assert b"192.168.1.89 - - " in log, log
    assert b'"GET / HTTP/1.1" 200' in log, log
    del_ok(w, client_pod)
    del_ok(w, server)
    assert w.leftovers() == [], w.log_tail()


# --------------------------------------------------------------------------- thin = thick


def _case_quickstart_twice(w: ThinWorld) -> tuple[Pod, dict[str, Any]]:
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    return w.create_pod(QUICKSTART_POD_TWICE), w.conf


def _case_how_to_06(w: ThinWorld) -> tuple[Pod, dict[str, Any]]:
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_1, w.dirs.ipam))
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_2, w.dirs.ipam))
    (w.conf_dir / "macvlan2.conf").write_text(thinlab.seed_nad_text(HOWTO_FILE_2, w.dirs.ipam))
    return w.create_pod(HOWTO_PODS["pod-case-06"]), w.conf


def _case_default_route(w: ThinWorld) -> tuple[Pod, dict[str, Any]]:
    cluster_conf = w.cluster_conf()
    cluster_conf["ipam"]["routes"] = [{"dst": "0.0.0.0/0"}]
    w.create_nads(thinlab.seed_nad_text(DEFAULT_ROUTE_NAD, w.dirs.ipam))
    return w.create_pod(DEFAULT_ROUTE_POD), w.multus_conf(delegates=[cluster_conf])


def _case_static_server(w: ThinWorld) -> tuple[Pod, dict[str, Any]]:
    w.create_nads(thinlab.seed_nad_text(STATIC_NAD, w.dirs.ipam))
    return w.create_pod(SERVER_POD), w.conf


def _case_cluster_nad(w: ThinWorld) -> tuple[Pod, dict[str, Any]]:
    conf, _ = _cluster_network(w, "nad")
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    return w.create_pod(QUICKSTART_POD), conf


SAME_OUTPUT_CASES: dict[str, Callable[[ThinWorld], tuple[Pod, dict[str, Any]]]] = {
    "quickstart-twice": _case_quickstart_twice,
    "how-to-pod-case-06": _case_how_to_06,
    "default-route": _case_default_route,
    "static-server": _case_static_server,
    "cluster-network-nad": _case_cluster_nad,
}
#: What differs between two ADDs of one pod by construction: random MACs and host veths.
_MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
_HOST_VETH = re.compile(r"\bveth[0-9a-f]{8}\b")


def _normalised(text: str) -> str:
    return _HOST_VETH.sub("<veth>", _MAC.sub("<mac>", text))


def _added_messages(w: ThinWorld, pod: Pod, at_least: int) -> list[str]:
    def messages() -> list[str]:
        return sorted(
            str(e["message"]) for e in w.events(pod) if e.get("reason") == "AddedInterface"
        )

    assert thinlab.wait_for(lambda: len(messages()) >= at_least, timeout=10), messages()
    return messages()


def _caches(w: ThinWorld, pod: Pod) -> dict[str, str]:
    """The scratch cache and libcni result caches of ``pod``, normalised."""
    files = [w.dirs.cni / pod.container_id]
    results = w.dirs.cni / "results"
    files += sorted(results.glob(f"*-{pod.container_id}-*")) if results.is_dir() else []
    out = {}
    for f in files:
        doc = json.loads(f.read_text())
        if isinstance(doc, dict) and isinstance(doc.get("config"), str):
            doc["config"] = json.loads(base64.b64decode(doc["config"]))  # libcni: base64
        out[f.name] = _normalised(json.dumps(doc, sort_keys=True))
    return out


@pytest.fixture
def thick_world(  # noqa: PLR0917 - pytest fixtures take their dependencies positionally
    control_plane: controlplane.ControlPlane,
    multus_kubeconfig: Path,
    lab: nslab.Lab,
    tmp_path: Path,
    namespace: str,
    multus_bin: Path,
) -> Iterator[ThickWorld]:
    w = _make_world(
        control_plane,
        multus_kubeconfig,
        lab,
        tmp_path,
        namespace=namespace,
        multus_bin=multus_bin,
        mode="thick",
    )
    assert isinstance(w, ThickWorld)
    yield w
    errors = w.teardown()
    shutil.rmtree(tmp_path, ignore_errors=True)
    assert not errors, errors


@pytest.mark.parametrize("case", sorted(SAME_OUTPUT_CASES))
def test_thin_and_thick_give_identical_output(thick_world: ThickWorld, case: str) -> None:
    """One pod on one node, ADDed by the thin ``multus``, DELed, then ADDed through
    ``multus-shim`` + daemon with the same config: the printed result, the network-status
    annotation, the events and the scratch/result caches are byte-identical, once MACs and
    host veth names (random per ADD) are masked. host-local's ``last_reserved_ip`` is
    removed in between, so both ADDs get the same addresses."""
    w = thick_world
    pod, conf = SAME_OUTPUT_CASES[case](w)

    thin_add = w.thin_run("ADD", pod, conf)
    assert thin_add.rc == 0, run_failure(thin_add, w)
    thin_status = w.network_status(pod)
    thin_caches = _caches(w, pod)
    n_events = len(json.loads(thin_status))  # one AddedInterface per attachment
    assert len(_added_messages(w, pod, n_events)) == n_events
    thin_del = w.thin_run("DEL", pod, conf)
    assert (thin_del.rc, thin_del.stdout.strip()) == (0, ""), run_failure(thin_del, w)
    assert w.leftovers([pod]) == [], w.log_tail()
    for bookkeeping in w.dirs.ipam.glob("*/last_reserved_ip.*"):
        bookkeeping.unlink()

    thick_add = w.add(pod, conf)
    assert thick_add.rc == 0, run_failure(thick_add, w)
    assert _normalised(thick_add.stdout) == _normalised(thin_add.stdout)
    assert _normalised(w.network_status(pod)) == _normalised(thin_status)
    assert w.network_status(pod) != thin_status, "the thick ADD did not write the status"
    assert _caches(w, pod) == thin_caches
    messages = _added_messages(w, pod, 2 * n_events)
    assert messages == sorted(messages[::2] * 2), messages  # each message twice
    del_ok(w, pod, conf)
    assert w.leftovers() == [], w.log_tail()


# --------------------------------------------------------------------------- isolation


def _nad_doc(name: str, namespace: str, config: str | None) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {} if config is None else {"config": config},
    }
    return json.dumps(doc)


def _macvlan_config(w: ThinWorld, subnet_octet: int) -> str:
    return json.dumps(
        {
            "cniVersion": "0.3.1",
            "type": "macvlan",
            "master": nslab.NODE_UPLINK,
            "mode": "bridge",
            "ipam": {
                "type": "host-local",
                "subnet": f"192.168.{subnet_octet}.0/24",
                "dataDir": str(w.dirs.ipam),
            },
        }
    )


def _expect_error(
    w: ThinWorld, pod: Pod, conf: dict[str, Any] | None, text: str, *, exact: bool = False
) -> dict[str, Any]:
    res = w.add(pod, conf)
    assert res.rc == 1, f"ADD should fail:\n{run_failure(res, w)}"
    err = res.out
    assert isinstance(err, dict), res.stdout
    assert isinstance(err.get("code"), int), res.stdout
    assert set(err) >= {"cniVersion", "code", "msg"}, err
    prefix = (
        w.error_prefix("ADD") + f"Multus: [{pod.triple}]: error loading k8s delegates k8s args: "
    )
    msg = str(err["msg"])
    if exact:
        assert msg == prefix + text, msg
    else:
        assert msg.startswith(prefix), msg
        assert text in msg, msg
    assert "Traceback" not in res.stderr
    assert w.leftovers([pod]) == [], w.log_tail()
    thinlab.check_explain_error(w, pod, err, conf)
    return err


def test_namespace_isolation(world: ThinWorld, other_namespace: str) -> None:
    """CFG-14/NAD-05: another namespace's NAD is denied with upstream's text; `default/…`
    and `globalNamespaces` are allowed; with globalNamespaces set, `default` is not."""
    w = world
    other = other_namespace
    default_nad = f"iso-{uuid.uuid4().hex[:8]}"
    w.create_nads(_nad_doc("net-a", other, _macvlan_config(w, 31)))
    w.create_nads(_nad_doc(default_nad, "default", _macvlan_config(w, 32)))
    w.create_nads(_nad_doc("local", w.namespace, _macvlan_config(w, 33)))
    isolated = w.multus_conf(namespaceIsolation=True)

    denied = w.create_pod(
        {
            "metadata": {"name": "denied", "annotations": {thinlab.NETWORKS: f"{other}/net-a"}},
            "spec": {"containers": [{"name": "c", "image": "pause"}]},
        }
    )
    _expect_error(
        w,
        denied,
        isolated,
        "TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: "
        "namespace isolation enabled, annotation violates permission, pod is in namespace "
        f"{w.namespace} but refers to target namespace {other}",
        exact=True,
    )

    def pod_with(name: str, annotation: str) -> Pod:
        return w.create_pod(
            {
                "metadata": {"name": name, "annotations": {thinlab.NETWORKS: annotation}},
                "spec": {"containers": [{"name": "c", "image": "pause"}]},
            }
        )

    allowed = pod_with("allowed", f"default/{default_nad},local")
    full_cycle(
        w,
        allowed,
        [
            cluster(),
            Attachment(f"default/{default_nad}", "net1", "192.168.32.0/24"),
            Attachment(f"{w.namespace}/local", "net2", "192.168.33.0/24"),
        ],
        isolated,
    )

    global_conf = w.multus_conf(namespaceIsolation=True, globalNamespaces=f"{other}")
    via_global = pod_with("via-global", f"{other}/net-a")
    full_cycle(
        w,
        via_global,
        [cluster(), Attachment(f"{other}/net-a", "net1", "192.168.31.0/24")],
        global_conf,
    )
    default_denied = pod_with("default-denied", f"default/{default_nad}")
    _expect_error(
        w,
        default_denied,
        global_conf,
        "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, "
        f"pod is in namespace {w.namespace} but refers to target namespace default",
    )


# --------------------------------------------------------------------------- malformed

MALFORMED: list[tuple[str, str, str | None, str]] = [
    # (id, annotation, NAD "bad" spec.config (None: no NAD; "<empty>": empty spec), text)
    (
        "text-uppercase",
        "Net_A",
        None,
        "parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse: one or more "
        "items did not match comma-delimited format (must consist of lower case alphanumeric "
        "characters). Must start and end with an alphanumeric character), mismatch @ 'Net_A'",
    ),
    (
        "text-long-ifname",
        "good@averyveryverylongname",
        None,
        "parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse interface "
        "name: must be less than 15 chars and not contain '/' or spaces. interface name "
        "'averyveryverylongname'",
    ),
    (
        "text-two-slashes",
        "a/b/c",
        None,
        "parsePodNetworkAnnotation: parsePodNetworkObjectName: Invalid network object "
        "(failed at '/')",
    ),
    (
        "json-object",
        '{"name": "good"}',
        None,
        "parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection "
        "Annotation JSON format: ",
    ),
    (
        "json-bad-mac",
        '[{"name": "good", "mac": "zz"}]',
        None,
        "parsePodNetworkAnnotation: failed to mac: ",
    ),
    (
        "json-bad-cidr",
        '[{"name": "good", "ips": ["192.168.40.5/99"]}]',
        None,
        'failed to parse CIDR "192.168.40.5/99"',
    ),
    (
        "json-bad-ip",
        '[{"name": "good", "ips": ["not-an-ip"]}]',
        None,
        'failed to parse IP address "not-an-ip"',
    ),
    (
        "json-ecmp",
        '[{"name": "good", "default-route": ["192.168.40.1"]},'
        ' {"name": "good", "default-route": ["192.168.40.2"]}]',
        None,
        "multus does not support ECMP for default-route",
    ),
    (
        "missing-nad",
        "nope",
        None,
        "TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: "
        "failed getting the delegate: getKubernetesDelegate: cannot find a "
        "network-attachment-definition (nope) in namespace ({ns}): ",
    ),
    (
        "nad-not-json",
        "bad",
        "{not json",
        "TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: "
        "failed getting the delegate: GetCNIConfig: err in getCNIConfigFromSpec: failed to "
        "unmarshal Spec.Config: ",
    ),
    (
        "nad-no-type",
        "bad",
        '{"cniVersion": "0.3.1", "name": "bad"}',
        "LoadDelegateNetConf: failed with: LoadDelegateNetConfList: delegate must have the "
        "'type' or 'plugin' field",
    ),
    ("nad-empty-spec-no-file", "bad", "<empty>", "GetCNIConfig: err in GetCNIConfigFromFile: "),
]


@pytest.mark.parametrize(
    ("annotation", "bad_config", "text"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_annotation_or_nad(
    world: ThinWorld, annotation: str, bad_config: str | None, text: str
) -> None:
    """ANN-02/03/04, CORE-14, NAD-01/02/03/04: upstream's error text as CNI error JSON,
    exit 1, no traceback, no delegate left attached; explain reports the same error."""
    w = world
    w.create_nads(_nad_doc("good", w.namespace, _macvlan_config(w, 40)))
    if bad_config is not None:
        w.create_nads(_nad_doc("bad", w.namespace, None if bad_config == "<empty>" else bad_config))
    pod = w.create_pod(
        {
            "metadata": {"name": "malformed", "annotations": {thinlab.NETWORKS: annotation}},
            "spec": {"containers": [{"name": "c", "image": "pause"}]},
        }
    )
    _expect_error(w, pod, None, text.replace("{ns}", w.namespace))
    if annotation == "nope":
        assert thinlab.wait_for(
            lambda: any(e.get("reason") == "NoNetworkFound" for e in w.events(pod)), timeout=5
        )


# --------------------------------------------------------------------------- DEL


def test_del_with_api_server_unreachable(world: ThinWorld) -> None:
    """CORE-15/16: DEL from the scratch cache when the API server cannot be reached."""
    w = world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD_TWICE)
    nad = f"{w.namespace}/macvlan-conf"
    add_ok(w, pod)
    entries = check_status(
        w,
        pod,
        [
            cluster(),
            Attachment(nad, "net1", "192.168.1.0/24"),
            Attachment(nad, "net2", "192.168.1.0/24"),
        ],
    )
    check_explain(w, pod, entries)
    # thin: the config's kubeconfig names a closed port; thick: the daemon has its own
    # client (the request's kubeconfig is ignored, THK-11), so its way to the API is cut.
    dead = w.cut_api()
    began = time.monotonic()
    res = w.delete(pod, dead)
    elapsed = time.monotonic() - began
    assert res.rc == 0, run_failure(res, w)
    assert elapsed < 15, f"DEL took {elapsed:.1f}s with the API server unreachable"
    assert w.leftovers() == [], w.log_tail()
    again = w.delete(pod, dead)  # a repeated DEL is a no-op success
    assert again.rc == 0, run_failure(again, w)


def test_del_after_nad_deleted(world: ThinWorld) -> None:
    """A NAD deleted between ADD and DEL: DEL still detaches everything."""
    w = world
    w.create_nads(thinlab.seed_nad_text(QUICKSTART_NAD, w.dirs.ipam))
    pod = w.create_pod(QUICKSTART_POD)
    add_ok(w, pod)
    entries = check_status(
        w, pod, [cluster(), Attachment(f"{w.namespace}/macvlan-conf", "net1", "192.168.1.0/24")]
    )
    check_explain(w, pod, entries)
    w.delete_nad(w.namespace, "macvlan-conf")
    del_ok(w, pod)
    assert w.leftovers() == [], w.log_tail()


def test_pod_not_found_on_add(world: ThinWorld) -> None:
    """CORE-07: a pod absent from the API gets the empty result; no delegate runs."""
    w = world
    pod = w.ghost_pod()
    res = w.add(pod)
    assert res.rc == 0, run_failure(res, w)
    out = res.out
    assert isinstance(out, dict)
    assert out["interfaces"] == [{"name": "eth0", "sandbox": pod.netns_path}]
    assert [ip["address"] for ip in out["ips"]] == ["0.0.0.0/0"]
    assert out["ips"][0].get("gateway") == "0.0.0.0"  # noqa: S104 - not a bind address
    assert nslab.link_names(pod.netns) == {"lo"}
    # the bridge plugin would have created cni0 in the node namespace
    assert w.node.link_names() == {"lo", nslab.NODE_UPLINK, nslab.NODE_PEER}
    assert not (w.dirs.cni / "results").exists()
    assert w.leftovers() == []
    del_ok(w, pod)  # no cache, no pod: nothing to do, success


# --------------------------------------------------------------------------- race


RACE_PODS = 20


def test_parallel_add_del_race(world: ThinWorld) -> None:
    """20 pods ADDed in parallel, then DELed in parallel: every pod got its own addresses
    and its network-status, and nothing is left (no lease, link or cache file)."""
    w = world
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_1, w.dirs.ipam))
    pods = [
        w.create_pod(
            {
                "metadata": {
                    "name": f"race-{i:02d}",
                    "annotations": {thinlab.NETWORKS: "macvlan-conf-1"},
                },
                "spec": {"containers": [{"name": "c", "image": "pause"}]},
            }
        )
        for i in range(RACE_PODS)
    ]
    with ThreadPoolExecutor(max_workers=RACE_PODS) as pool:
        adds = list(pool.map(w.add, pods))
    failed = [run_failure(r) for r in adds if r.rc != 0]
    assert not failed, f"{len(failed)} ADDs failed:\n" + "\n".join(failed[:3])
    seen: set[str] = set()
    for pod in pods:
        entries = check_status(
            w, pod, [cluster(), Attachment(f"{w.namespace}/macvlan-conf-1", "net1", "10.10.0.0/16")]
        )
        ips = {ip for e in entries for ip in e["ips"]}
        assert not ips & seen, f"address reused: {ips & seen}"
        seen |= ips
    with ThreadPoolExecutor(max_workers=RACE_PODS) as pool:
        dels = list(pool.map(w.delete, pods))
    failed = [run_failure(r) for r in dels if r.rc != 0]
    assert not failed, f"{len(failed)} DELs failed:\n" + "\n".join(failed[:3])
    assert w.leftovers() == [], w.log_tail()


# --------------------------------------------------------------------------- request counts


@pytest.fixture(scope="module")
def audited(
    cluster_binaries: controlplane.Binaries, require_root: None
) -> Iterator[tuple[thinlab.AuditedControlPlane, Path]]:
    """A second control plane with an audit log (the session one has none)."""
    cp = thinlab.AuditedControlPlane(cluster_binaries)
    try:
        cp.start()
    except controlplane.ControlPlaneError as e:
        pytest.fail(f"cannot start the audited control plane: {e}", pytrace=False)
    try:
        manifests.apply(cp)
        kubeconfig = cp.service_account_kubeconfig(
            manifests.MULTUS_NAMESPACE, manifests.MULTUS_SERVICE_ACCOUNT
        )
        yield cp, kubeconfig
    finally:
        cp.stop()


#: Requests per command, by mode: (ADD limit per number of NADs, DEL limit). Thin: the pod,
#: each NAD and the status PATCH. Thick: pods and NADs come from the daemon's watches (the
#: test waits until they are cached), so an ADD is the status PATCH alone and a DEL, even
#: without the scratch cache, asks the API nothing.
REQUEST_LIMITS: dict[str, tuple[Callable[[int], int], int | None]] = {
    "thin": (lambda n_nads: 2 + n_nads, None),
    "thick": (lambda _n: 1, 0),
}


@pytest.mark.parametrize("mode", MODES)
def test_api_request_counts(
    audited: tuple[thinlab.AuditedControlPlane, Path],
    lab: nslab.Lab,
    tmp_path: Path,
    multus_bin: Path,
    mode: str,
) -> None:
    """Requests per ADD/DEL as the API server's audit log records them (user agent of the
    plugin's REST client, which the daemon shares). Thin target: at most 2 + (number of
    NADs) per ADD, events aside; thick: one per ADD, none per DEL (long-running LIST and
    WATCH requests of the daemon's caches are reported apart)."""
    cp, kubeconfig = audited
    ns = f"t-{uuid.uuid4().hex[:10]}"
    cp.kubectl("create", "namespace", ns)
    cp.kubectl("create", "serviceaccount", "default", "-n", ns)
    w = _make_world(cp, kubeconfig, lab, tmp_path, namespace=ns, multus_bin=multus_bin, mode=mode)
    try:
        report = _count_requests(cp, w, mode)
    finally:
        errors = w.teardown()
        cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    assert not errors, errors
    out = RESULTS_FILE if mode == "thin" else RESULTS_FILE.with_name(
        RESULTS_FILE.stem.replace("thin", "thick") + RESULTS_FILE.suffix
    )
    out.write_text(json.dumps(report, indent=2))
    sys.stderr.write(
        f"\nAPI requests per command, {mode} (audit log):\n" + json.dumps(report, indent=2) + "\n"
    )
    problems = [
        f"{case}: {row['requests']} requests (limit {row['limit']})"
        for case, row in report.items()
        if row["limit"] is not None and row["requests"] > row["limit"]
    ]
    assert not problems, problems


def _cached(w: ThinWorld, cache: str) -> float:
    """Objects in one of the thick daemon's caches (``multus_cache_objects``)."""
    assert isinstance(w, ThickWorld)
    return w.daemon.metric("multus_cache_objects", f'cache="{cache}"')


def _count_requests(cp: thinlab.AuditedControlPlane, w: ThinWorld, mode: str) -> dict[str, Any]:
    ns = w.namespace
    thick = isinstance(w, ThickWorld)
    nads_before = _cached(w, "net-attach-defs") if thick else 0.0
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_1, w.dirs.ipam))
    w.create_nads(thinlab.seed_nad_text(HOWTO_NAD_2, w.dirs.ipam))
    (w.conf_dir / "macvlan2.conf").write_text(thinlab.seed_nad_text(HOWTO_FILE_2, w.dirs.ipam))
    w.create_nads(_nad_doc("third", ns, _macvlan_config(w, 50)))
    if thick:
        assert thinlab.wait_for(
            lambda: _cached(w, "net-attach-defs") >= nads_before + 3, timeout=15
        ), "the daemon's NAD watch did not see the new NADs"
    add_limit, del_limit = REQUEST_LIMITS[mode]
    cases = {
        0: None,
        1: "macvlan-conf-1",
        2: "macvlan-conf-1, macvlan-conf-2",
        3: "macvlan-conf-1, macvlan-conf-2, third",
    }
    report: dict[str, Any] = {}

    def make_pod(name: str, annotation: str | None) -> Pod:
        annotations = {} if annotation is None else {thinlab.NETWORKS: annotation}
        pods_before = _cached(w, "pods") if thick else 0.0
        pod = w.create_pod(
            {
                "metadata": {"name": name, "annotations": annotations},
                "spec": {"containers": [{"name": "c", "image": "pause"}]},
            }
        )
        if thick:
            assert thinlab.wait_for(lambda: _cached(w, "pods") > pods_before, timeout=15), (
                f"the daemon's pod watch did not see {name}"
            )
        return pod

    def measure(
        label: str, run: Callable[[], nslab.CniRun], limit: int | None
    ) -> list[dict[str, Any]]:
        offset = cp.audit_size()
        res = run()
        assert res.rc == 0, run_failure(res, w)
        events = cp.audit_events_since(offset)
        # a watch is audited when it ends: the daemon's cache machinery, not this command
        watches = [e for e in events if e.get("verb") in ("list", "watch")]
        events = [e for e in events if e.get("verb") not in ("list", "watch")]
        api = [e for e in events if (e.get("objectRef") or {}).get("resource") != "events"]
        report[label] = {
            "requests": len(api),
            "events": len(events) - len(api),
            "limit": limit,
            "detail": thinlab.describe_requests(events),
        }
        if watches:
            report[label]["cache list/watch (not counted)"] = thinlab.describe_requests(watches)
        return events

    for n_nads, annotation in cases.items():
        pod = make_pod(f"count-{n_nads}", annotation)
        events = measure(f"ADD {n_nads} NAD(s)", functools.partial(w.add, pod), add_limit(n_nads))
        posted = [e for e in events if (e.get("objectRef") or {}).get("resource") == "events"]
        # one AddedInterface per attachment (the cluster network + each NAD)
        assert len(posted) == 1 + n_nads, thinlab.describe_requests(events)
        measure(f"DEL {n_nads} NAD(s)", functools.partial(w.delete, pod), del_limit)
        assert w.leftovers([pod]) == [], w.log_tail()
    # DEL without the scratch cache: thin falls back to the API (pod + NADs), thick to the
    # daemon's caches
    pod = make_pod("count-nocache", cases[2])
    res = w.add(pod)
    assert res.rc == 0, run_failure(res, w)
    _added_messages(w, pod, 3)  # the daemon posts them in the background: not DEL's
    (w.dirs.cni / pod.container_id).unlink()
    measure("DEL 2 NAD(s), scratch cache removed", lambda: w.delete(pod), del_limit)
    assert w.leftovers() == [], w.log_tail()
    return report
