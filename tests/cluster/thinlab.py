"""The thin plugin against the real control plane, with real plugins in real netns.

Plain Python (no pytest import): a :class:`ThinWorld` ties one test's pieces together —
the node namespace of ``tests/privileged/netns.py`` (its veth ``eth0`` is the macvlan
master), pod namespaces, a private tmp tree (multus' ``cniDir``/``confDir``, host-local's
``dataDir``), the test's Kubernetes namespace, and the multus ServiceAccount's kubeconfig.
Pods are created as API objects bound to a node by ``spec.nodeName``; the ``multus``
executable runs inside the node namespace with a runtime's environment and stdin.

It also holds the checks every scenario shares: the network-status annotation read back
with ``kubectl`` and compared with ``ip -j`` in the pod namespace, ``multusctl explain``
compared with what ADD did (scratch cache + libcni result cache), and leftovers.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import ctypes
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PRIVILEGED = HERE.parent / "privileged"
if str(PRIVILEGED) not in sys.path:
    sys.path.insert(0, str(PRIVILEGED))

import controlplane  # noqa: E402
import netns as nslab  # noqa: E402
import yaml  # noqa: E402
from cnitier import CNI_BIN_DIR, Dirs, RunCni, bridge_conf, cache_files  # noqa: E402

#: ``Dirs`` and ``nslab`` are re-exported: the tests reach tests/privileged through here.
__all__ = [
    "AUDIT_POLICY",
    "ApiForwarder",
    "Attachment",
    "AuditedControlPlane",
    "Dirs",
    "Pod",
    "ThinWorld",
    "check_explain",
    "check_explain_error",
    "check_status",
    "dead_kubeconfig",
    "describe_requests",
    "go_indent",
    "nslab",
    "run_failure",
    "seed_nad_text",
    "server_port",
    "wait_for",
    "yaml_docs",
]

REPO = HERE.parents[1]
MULTUSCTL = Path(sys.executable).parent / "multusctl"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
#: Name of the cluster network (delegate 0); the quickstart's example status shows ``cbr0``.
CLUSTER_NAME = "cbr0"
CLUSTER_VERSION = "0.3.1"
#: Key order of a network-status entry (nad-client's ``NetworkStatus``).
STATUS_KEYS = ("name", "interface", "ips", "mac", "mtu", "default", "dns", "device-info", "gateway")
NODE_NAME = "node-1"


# --------------------------------------------------------------------------- seed text


def seed_nad_text(text: str, data_dir: Path, master: str = nslab.NODE_UPLINK) -> str:
    """A seed NAD (YAML or JSON config text) with only ``master`` and host-local's
    ``dataDir`` changed: the macvlan master becomes the node namespace's ``eth0`` and the
    leases go to the test's tmp tree instead of /var/lib/cni."""
    out = re.sub(r'"master":\s*"[^"]*"', f'"master": "{master}"', text)
    out, n = re.subn(r'("type":\s*"host-local",)', rf'\1 "dataDir": "{data_dir}",', out)
    if '"host-local"' in text and n == 0:
        raise ValueError("host-local ipam without a trailing comma: cannot add dataDir")
    return out


def yaml_docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


# --------------------------------------------------------------------------- API reachability

CLONE_NEWNET = 0x40000000


def _listen_in_netns(netns: str, host: str, port: int) -> socket.socket:
    """A listening TCP socket created inside ``netns`` (in a throw-away thread, because
    ``setns`` switches only the calling thread; the socket keeps its namespace)."""
    box: dict[str, Any] = {}

    def work() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(str(nslab.NETNS_DIR / netns), os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({netns}): {os.strerror(err)}")
            box["sock"] = socket.create_server((host, port))
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            box["err"] = e
        finally:
            os.close(fd)

    t = threading.Thread(target=work, name=f"setns-{netns}")
    t.start()
    t.join()
    if "err" in box:
        raise box["err"]
    sock: socket.socket = box["sock"]
    return sock


class ApiForwarder:
    """Makes ``127.0.0.1:<port>`` of the node namespace reach the API server.

    On a real node the runtime runs CNI plugins in the host network namespace, where the
    API server is reachable. Here the node is a network namespace of its own, whose
    loopback is not the root namespace's, so a listener inside it pipes each connection
    to the same port on the root namespace's loopback, where the test control plane
    listens. TLS stays end to end (the kubeconfig is unchanged); only bytes are copied.
    """

    def __init__(self, netns: str, port: int) -> None:
        self.port = port
        self.connections = 0
        self._listener = _listen_in_netns(netns, "127.0.0.1", port)
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"fwd-{netns}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        except OSError:
            conn.close()
            return
        conn.settimeout(None)
        upstream.settimeout(None)
        # Both ends already disable Nagle; so must the copier, or each small TLS record it
        # forwards waits for the peer's delayed ACK (~40 ms) and every call looks slow.
        for s in (conn, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.update((conn, upstream))
        back = threading.Thread(target=self._copy, args=(upstream, conn), daemon=True)
        back.start()
        self._copy(conn, upstream)
        back.join()
        with self._lock:
            self._open.difference_update((conn, upstream))
        conn.close()
        upstream.close()

    @staticmethod
    def _copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def server_port(kubeconfig: Path) -> int:
    doc = yaml.safe_load(kubeconfig.read_text())
    url = urllib.parse.urlsplit(str(doc["clusters"][0]["cluster"]["server"]))
    return int(url.port or 443)


# --------------------------------------------------------------------------- pods


@dataclass(frozen=True)
class Pod:
    """One pod: its API identity and the sandbox (netns, container ID) a runtime made."""

    namespace: str
    name: str
    uid: str
    netns: str
    container_id: str

    @property
    def cni_args(self) -> str:
        return (
            f"IgnoreUnknown=1;K8S_POD_NAMESPACE={self.namespace};K8S_POD_NAME={self.name};"
            f"K8S_POD_INFRA_CONTAINER_ID={self.container_id};K8S_POD_UID={self.uid}"
        )

    @property
    def triple(self) -> str:
        return f"{self.namespace}/{self.name}/{self.uid}"

    @property
    def netns_path(self) -> str:
        return str(nslab.NETNS_DIR / self.netns)


@dataclass(frozen=True)
class Attachment:
    """What a test expects in the network-status, in order."""

    name: str
    interface: str
    subnet: str | None = None
    ips: tuple[str, ...] | None = None
    default: bool = False


# --------------------------------------------------------------------------- world


@dataclass
class ThinWorld:
    """One scenario's node, pods, tmp tree, Kubernetes namespace and multus config."""

    cp: controlplane.ControlPlane
    kubeconfig: Path
    lab: nslab.Lab
    node: nslab.Node
    dirs: Dirs
    namespace: str
    multus_bin: Path
    conf: dict[str, Any] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    #: (namespace, name) of NADs this world created outside its own namespace.
    foreign_nads: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run = RunCni(self.node, self.multus_bin)
        self.forwarder = ApiForwarder(self.node.name, server_port(self.kubeconfig))
        self.conf_dir = self.dirs.root / "net.d"
        self.conf_dir.mkdir(exist_ok=True)
        if not self.conf:
            self.conf = self.multus_conf()

    # ---------------------------------------------------------------- configs

    def cluster_conf(self, name: str = CLUSTER_NAME) -> dict[str, Any]:
        """bridge ``cni0`` + host-local 10.244.0.0/24: the cluster (pod-to-pod) network."""
        return bridge_conf(CLUSTER_VERSION, self.dirs, name=name)

    def multus_conf(self, **extra: Any) -> dict[str, Any]:
        """A Kubernetes-mode Multus config; ``delegates`` = the cluster network unless
        ``clusterNetwork`` is given in ``extra``."""
        conf: dict[str, Any] = {
            "cniVersion": CLUSTER_VERSION,
            "name": "multus-cni-network",
            "type": "multus",
            "kubeconfig": str(self.kubeconfig),
            "cniDir": str(self.dirs.cni),
            "confDir": str(self.conf_dir),
            "binDir": CNI_BIN_DIR,
            "logLevel": "verbose",
            "logFile": str(self.dirs.root / "multus.log"),
        }
        if "clusterNetwork" not in extra:
            conf["delegates"] = [self.cluster_conf()]
        conf.update(extra)
        return conf

    def conf_file(self, conf: Mapping[str, Any] | None = None) -> Path:
        path = self.dirs.root / f"multus-{uuid.uuid4().hex[:6]}.conf"
        path.write_text(json.dumps(conf if conf is not None else self.conf, indent=2))
        return path

    def error_prefix(self, command: str) -> str:
        """What the runtime sees before the core's error text for ``command`` (the thin
        plugin prints the core's message as is)."""
        return ""

    def cut_api(self) -> dict[str, Any]:
        """A Multus config with which the API server cannot be reached: the thin plugin
        reads its kubeconfig from the config, so it names a closed loopback port."""
        return self.multus_conf(kubeconfig=str(dead_kubeconfig(self)))

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.dirs.root / "multus.log").read_text(errors="replace")
        except OSError:
            return "(no multus log)"
        return "\n".join(text.splitlines()[-lines:])

    # ---------------------------------------------------------------- API objects

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl(*args, input_text=input_text, check=check)

    def create_nads(self, text: str, namespace: str | None = None) -> list[tuple[str, str]]:
        """``kubectl create -f -`` of seed NAD text (already passed through
        :func:`seed_nad_text`); documents without a namespace go to ``namespace`` or the
        world's namespace. Returns (namespace, name) per NAD."""
        created = []
        for doc in yaml_docs(text):
            meta = doc.setdefault("metadata", {})
            ns = meta.get("namespace") or namespace or self.namespace
            meta["namespace"] = ns
            self.kubectl("create", "-f", "-", input_text=json.dumps(doc))
            created.append((ns, str(meta["name"])))
            if ns != self.namespace:
                self.foreign_nads.append((ns, str(meta["name"])))
        return created

    def delete_nad(self, namespace: str, name: str) -> None:
        self.kubectl(
            "delete",
            "network-attachment-definitions.k8s.cni.cncf.io",
            name,
            "-n",
            namespace,
            "--ignore-not-found",
            "--wait=false",
        )

    def create_pod(self, text_or_doc: str | Mapping[str, Any], namespace: str | None = None) -> Pod:
        """Create a seed Pod (YAML text or a dict) bound to the node, plus its netns."""
        doc = (
            yaml_docs(text_or_doc)[0]
            if isinstance(text_or_doc, str)
            else copy.deepcopy(dict(text_or_doc))
        )
        ns = namespace or self.namespace
        doc.setdefault("apiVersion", "v1")
        doc.setdefault("kind", "Pod")
        doc.setdefault("metadata", {})["namespace"] = ns
        doc.setdefault("spec", {})["nodeName"] = NODE_NAME
        self.kubectl("create", "-f", "-", input_text=json.dumps(doc))
        name = str(doc["metadata"]["name"])
        uid = self.kubectl(
            "get", "pod", name, "-n", ns, "-o", "jsonpath={.metadata.uid}"
        ).stdout.strip()
        pod = Pod(ns, name, uid, self.lab.pod(), f"ctr-{uuid.uuid4().hex[:12]}")
        self.pods.append(pod)
        return pod

    def ghost_pod(self, name: str = "no-such-pod") -> Pod:
        """A sandbox for a pod that does not exist in the API."""
        pod = Pod(
            self.namespace, name, str(uuid.uuid4()), self.lab.pod(), f"ctr-{uuid.uuid4().hex[:12]}"
        )
        self.pods.append(pod)
        return pod

    def network_status(self, pod: Pod) -> str:
        """The raw network-status annotation, as ``kubectl get -o jsonpath`` prints it."""
        path = "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}"
        return self.kubectl("get", "pod", pod.name, "-n", pod.namespace, "-o", path).stdout

    def events(self, pod: Pod) -> list[dict[str, Any]]:
        out = self.kubectl(
            "get",
            "events",
            "-n",
            pod.namespace,
            "-o",
            "json",
            "--field-selector",
            f"involvedObject.name={pod.name}",
        ).stdout
        items = json.loads(out).get("items") or []
        return sorted(items, key=lambda e: str(e.get("metadata", {}).get("creationTimestamp")))

    # ---------------------------------------------------------------- the plugin

    def add(
        self, pod: Pod, conf: Mapping[str, Any] | None = None, ifname: str = "eth0"
    ) -> nslab.CniRun:
        return self.run(
            "ADD",
            dict(conf if conf is not None else self.conf),
            pod.container_id,
            pod.netns,
            ifname,
            args=pod.cni_args,
        )

    def delete(
        self, pod: Pod, conf: Mapping[str, Any] | None = None, ifname: str = "eth0"
    ) -> nslab.CniRun:
        return self.run(
            "DEL",
            dict(conf if conf is not None else self.conf),
            pod.container_id,
            pod.netns,
            ifname,
            args=pod.cni_args,
        )

    def explain(
        self, pod: Pod, conf: Mapping[str, Any] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``multusctl explain -o json`` with the pod and every NAD as kubectl prints them."""
        tag = uuid.uuid4().hex[:6]
        pod_file = self.dirs.root / f"explain-pod-{tag}.yaml"
        nad_file = self.dirs.root / f"explain-nads-{tag}.yaml"
        pod_file.write_text(
            self.kubectl("get", "pod", pod.name, "-n", pod.namespace, "-o", "yaml").stdout
        )
        nad_file.write_text(
            self.kubectl(
                "get", "network-attachment-definitions.k8s.cni.cncf.io", "-A", "-o", "yaml"
            ).stdout
        )
        return subprocess.run(
            [
                str(MULTUSCTL),
                "explain",
                "--pod",
                str(pod_file),
                "--nad",
                str(nad_file),
                "--config",
                str(self.conf_file(conf)),
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # ---------------------------------------------------------------- leftovers

    def leftovers(self, pods: Sequence[Pod] | None = None) -> list[str]:
        """Links, leases and cache files left by the given pods (default: all)."""
        problems = []
        for pod in pods if pods is not None else self.pods:
            left = nslab.link_names(pod.netns) - {"lo"}
            if left:
                problems.append(f"pod {pod.name}: links {sorted(left)}")
        node_links = self.node.link_names() - {"lo", nslab.NODE_UPLINK, nslab.NODE_PEER}
        extra = sorted(n for n in node_links if not n.startswith("cni"))
        if extra:
            problems.append(f"node namespace still has links {extra}")
        leases = nslab.host_local_leases(self.dirs.ipam)
        if leases:
            problems.append(f"host-local leases still held: {leases}")
        files = cache_files(self.dirs)
        if files:
            problems.append(f"cache files left in cniDir: {files}")
        return problems

    def teardown(self) -> list[str]:
        """Stop the API forwarder; delete NADs this world made outside its namespace (its
        own namespace is deleted whole by the fixture)."""
        self.forwarder.close()
        errors = []
        for ns, name in self.foreign_nads:
            try:
                self.delete_nad(ns, name)
            except controlplane.ControlPlaneError as e:
                errors.append(str(e))
        return errors


def dead_kubeconfig(w: ThinWorld) -> Path:
    """A copy of the multus kubeconfig whose server is a closed loopback port."""
    doc = json.loads(w.kubeconfig.read_text())
    port = controlplane.free_port()
    for c in doc["clusters"]:
        c["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = w.dirs.root / "dead.kubeconfig"
    path.write_text(json.dumps(doc))
    return path


# --------------------------------------------------------------------------- checks


def go_indent(entries: Sequence[Mapping[str, Any]]) -> str:
    """nad-client's rendering: ``[`` + entries as MarshalIndent(…, "", "    ") + ``]``."""
    def go(entry: Mapping[str, Any]) -> str:
        # Go's encoder escapes <, > and & (HTML-safe), json.dumps does not.
        text = json.dumps(entry, indent=4, ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    return "[" + ",".join(go(e) for e in entries) + "]"


def run_failure(res: nslab.CniRun, world: ThinWorld | None = None) -> str:
    text = f"rc={res.rc}\nstdout={res.stdout}\nstderr={res.stderr}"
    if world is not None:
        text += f"\nmultus log:\n{world.log_tail()}"
    return text


def check_status(
    world: ThinWorld, pod: Pod, expected: Sequence[Attachment]
) -> list[dict[str, Any]]:
    """The annotation (read with kubectl) against the pod netns and ``expected``.

    Entry order and names, ``default`` only on the first, interface names, IPs (without
    prefix) and MACs equal to ``ip -j addr``/``link`` in the pod namespace, the raw string
    in upstream's format. Returns the parsed entries.
    """
    raw = world.network_status(pod)
    assert raw, f"no network-status annotation on {pod.name}\n{world.log_tail()}"
    entries = json.loads(raw)
    assert isinstance(entries, list)
    assert raw == go_indent(entries), f"network-status is not in upstream's format:\n{raw}"
    assert raw.startswith('[{\n    "name": '), raw
    for entry in entries:
        keys = list(entry)
        assert keys == [k for k in STATUS_KEYS if k in entry], f"key order {keys}"
        assert "dns" in entry, entry
    got = [(e["name"], e.get("interface"), bool(e.get("default"))) for e in entries]
    want = [(a.name, a.interface, a.default) for a in expected]
    assert got == want, f"network-status entries {got} != expected {want}\n{raw}"
    links = nslab.links(pod.netns)
    addrs = nslab.addresses(pod.netns)
    assert set(links) == {"lo", *(a.interface for a in expected)}, (
        f"pod netns links {sorted(links)}"
    )
    for entry, want_att in zip(entries, expected, strict=True):
        ifname = want_att.interface
        assert entry.get("mac") == links[ifname]["address"], (entry, links[ifname])
        netns_ips = [a.split("/")[0] for a in addrs[ifname]]
        assert entry.get("ips") == netns_ips, (ifname, entry.get("ips"), netns_ips)
        if want_att.subnet is not None:
            for ip in netns_ips:
                assert nslab.in_subnet(ip, want_att.subnet), (ifname, ip, want_att.subnet)
        if want_att.ips is not None:
            assert addrs[ifname] == list(want_att.ips), (ifname, addrs[ifname])
    return entries


def check_explain(
    world: ThinWorld,
    pod: Pod,
    entries: Sequence[Mapping[str, Any]],
    conf: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``multusctl explain`` agrees with the ADD that just ran (call before DEL).

    Same delegates in the same order as the scratch cache, same ifnames and master flag
    as the network-status, and per attachment the libcni result cache holds exactly the
    config, capability args and CNI_ARGS explain predicts.
    """
    proc = world.explain(pod, conf)
    assert proc.returncode == 0, f"explain failed: {proc.stdout}\n{proc.stderr}"
    plan = json.loads(proc.stdout)
    assert plan["pod"] == f"{pod.namespace}/{pod.name}"
    delegates = plan["delegates"]
    scratch = json.loads((world.dirs.cni / pod.container_id).read_text())
    assert [d["name"] for d in delegates] == [e["Name"] for e in scratch], (
        [d["name"] for d in delegates],
        [e["Name"] for e in scratch],
    )
    assert [(d["name"], d["ifname"], d["master"]) for d in delegates] == [
        (e["name"], e.get("interface"), bool(e.get("default"))) for e in entries
    ]
    for d in delegates:
        conf_out = d["conf"]
        net_name = (conf_out[0] if isinstance(conf_out, list) else conf_out)["name"]
        cached_path = world.dirs.cni / "results" / f"{net_name}-{pod.container_id}-{d['ifname']}"
        assert cached_path.is_file(), f"no result cache {cached_path.name} for {d['name']}"
        cached = json.loads(cached_path.read_text())
        assert cached["capabilityArgs"] == d["runtimeConfig"], (cached["capabilityArgs"], d)
        config = json.loads(base64.b64decode(cached["config"]))
        if isinstance(conf_out, list):
            plugins = [
                {k: v for k, v in p.items() if k not in ("name", "cniVersion", "runtimeConfig")}
                for p in conf_out
            ]
            assert plugins == config["plugins"], (plugins, config)
        else:
            body = {
                k: v
                for k, v in conf_out.items()
                if k not in ("name", "cniVersion", "runtimeConfig")
            }
            assert body == {k: v for k, v in config.items() if k not in ("name", "cniVersion")}, (
                conf_out,
                config,
            )
            assert conf_out["name"] == config.get("name", net_name)
        predicted = dict(p.split("=", 1) for p in d["cniArgs"].split(";") if p)
        actual = dict(cached["cniArgs"])
        for key in ("K8S_POD_INFRA_CONTAINER_ID",):
            predicted.pop(key, None)
            actual.pop(key, None)
        assert predicted == actual, (predicted, actual)
    assert isinstance(plan, dict)
    return plan


def check_explain_error(
    world: ThinWorld, pod: Pod, plugin_out: Mapping[str, Any], conf: Mapping[str, Any] | None = None
) -> None:
    """explain fails with the same CNI error JSON (code and msg) as the plugin's ADD (in a
    thick world the runtime sees the message behind the shim's ``CmdAdd (shim): ``)."""
    proc = world.explain(pod, conf)
    assert proc.returncode == 1, f"explain did not fail: {proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    err = json.loads(proc.stdout)
    assert (err["code"], world.error_prefix("ADD") + err["msg"]) == (
        plugin_out["code"],
        plugin_out["msg"],
    ), (err, plugin_out)


def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------- audit log

#: One audit event per request (ResponseComplete or Panic), metadata only.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [{"level": "Metadata"}],
}
#: The User-Agent of the plugin's REST client (multusctl.kube.rest.USER_AGENT).
PLUGIN_USER_AGENT = "multusctl-cni"


class AuditedControlPlane(controlplane.ControlPlane):
    """A :class:`controlplane.ControlPlane` whose kube-apiserver writes an audit log.

    The owner's class has no option for extra apiserver flags, so this subclass appends
    ``--audit-policy-file``/``--audit-log-path`` when the apiserver is spawned.
    """

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def _spawn(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        if name == "kube-apiserver":
            policy = self.workdir / "audit-policy.json"
            policy.write_text(json.dumps(AUDIT_POLICY))
            argv = [
                *argv,
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-mode=blocking",
            ]
        return super()._spawn(name, argv)

    def audit_size(self) -> int:
        try:
            return self.audit_log.stat().st_size
        except FileNotFoundError:
            return 0

    def audit_events_since(
        self, offset: int, user_agent: str = PLUGIN_USER_AGENT, settle: float = 1.0
    ) -> list[dict[str, Any]]:
        """Audit events written after byte ``offset`` by clients with ``user_agent``.

        Waits until the file stops growing for ``settle`` seconds (the log backend
        writes each event when its request completes).
        """
        last = -1
        stable_since = time.monotonic()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            size = self.audit_size()
            if size != last:
                last, stable_since = size, time.monotonic()
            elif time.monotonic() - stable_since >= settle:
                break
            time.sleep(0.1)
        with self.audit_log.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        events = []
        for line in data.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if str(ev.get("userAgent", "")).startswith(user_agent):
                events.append(ev)
        return events


def describe_requests(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """``VERB resource[/subresource] code`` per audit event, for reports."""
    out = []
    for ev in events:
        ref = ev.get("objectRef") or {}
        res = str(ref.get("resource", "?"))
        if ref.get("subresource"):
            res += "/" + str(ref["subresource"])
        code = (ev.get("responseStatus") or {}).get("code")
        out.append(f"{ev.get('verb')} {res} {code}")
    return out
