"""The implementations the bench compares, behind one small interface.

An :class:`Implementation` owns a *site*: its own node network namespace (veth ``eth0`` as
the macvlan master), its own tmp tree (multus ``cniDir``/``confDir``, host-local
``dataDir``) and its own Kubernetes namespace holding the NADs ``net-1`` … ``net-10`` — all
on the one shared API server. Separate sites keep one implementation's leftovers from
polluting another's checks; the conditions are otherwise identical.

To add a row (e.g. a thick daemon), subclass :class:`Implementation` and override
:meth:`~Implementation.add`, :meth:`~Implementation.delete` and, for long-lived processes,
:meth:`~Implementation.start`, :meth:`~Implementation.stop` and
:meth:`~Implementation.daemon_pids`.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for sub in ("tests/cluster", "tests/privileged"):
    if str(REPO / sub) not in sys.path:
        sys.path.insert(0, str(REPO / sub))

import controlplane  # noqa: E402
import kubeobjects  # noqa: E402
import manifests  # noqa: E402
import netns as nslab  # noqa: E402
from cnitier import Dirs  # noqa: E402
from measure import Exec, proc_cpu, run_timed  # noqa: E402
from thinlab import ApiForwarder, go_indent, server_port  # noqa: E402

CNI_BIN_DIR = "/usr/lib/cni"
CNI_VERSION = "0.3.1"
CLUSTER_NETWORK = "cbr0"
CLUSTER_SUBNET = "10.244.0.0/16"
NODE_NAME = "bench-node"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
MAX_NADS = 10
NODE_BASE_LINKS = frozenset({"lo", nslab.NODE_UPLINK, nslab.NODE_PEER})


def nad_name(k: int) -> str:
    return f"net-{k}"


def ifname(k: int) -> str:
    """The runtime's ``eth0`` for the cluster network, ``net<k>`` for the k-th NAD."""
    return "eth0" if k == 0 else f"net{k}"


@dataclass(frozen=True)
class BenchPod:
    """A pod: API identity (when the implementation uses the API) and its sandbox."""

    namespace: str
    name: str
    uid: str
    netns: str
    container_id: str
    nads: int

    @property
    def netns_path(self) -> str:
        return str(nslab.NETNS_DIR / self.netns)

    @property
    def cni_args(self) -> str:
        return (
            f"IgnoreUnknown=1;K8S_POD_NAMESPACE={self.namespace};K8S_POD_NAME={self.name};"
            f"K8S_POD_INFRA_CONTAINER_ID={self.container_id};K8S_POD_UID={self.uid}"
        )


@dataclass
class Shared:
    """What every implementation shares: the API server, the lab, a tmp root."""

    cp: controlplane.ControlPlane | None
    api: Any  # kubernetes.client.ApiClient as admin
    sa_kubeconfig: Path
    lab: nslab.Lab
    root: Path
    #: Upstream rows authenticate with upstream's own RBAC (``manifests.UPSTREAM_RBAC``).
    upstream_kubeconfig: Path = Path()


@dataclass
class Site:
    node: nslab.Node
    dirs: Dirs
    conf_dir: Path
    namespace: str
    cluster_conflist: Path
    forwarder: ApiForwarder | None = None


@dataclass
class Implementation:
    """One row family of the table. ``key`` is stable (JSON), ``label`` is for humans."""

    key: str
    label: str
    #: Whether pods/NADs come from the API (False only for the raw floor).
    kube: bool = True
    shared: Shared | None = None
    site: Site | None = None
    pods: list[BenchPod] = field(default_factory=list)

    @property
    def is_upstream(self) -> bool:
        return self.key.startswith("upstream-")

    @property
    def service_account(self) -> str:
        """Ours runs with our least-privilege role, upstream with the role upstream ships."""
        if self.is_upstream:
            return manifests.UPSTREAM_SERVICE_ACCOUNT
        return manifests.MULTUS_SERVICE_ACCOUNT

    def kubeconfig(self) -> Path:
        assert self.shared is not None
        return self.shared.upstream_kubeconfig if self.is_upstream else self.shared.sa_kubeconfig

    # ------------------------------------------------------------------ lifecycle

    def setup(self, shared: Shared) -> None:
        """Create the site (node netns, tmp tree, namespace + NADs), then :meth:`start`."""
        self.shared = shared
        root = shared.root / self.key
        dirs = Dirs.make(root)
        conf_dir = root / "net.d"
        conf_dir.mkdir(exist_ok=True)
        node = shared.lab.node()
        namespace = f"bench-{self.key}-{uuid.uuid4().hex[:6]}"
        cluster = conf_dir / "10-cbr0.conflist"
        cluster.write_text(json.dumps(cluster_conflist(dirs), indent=2))
        self.site = Site(node, dirs, conf_dir, namespace, cluster)
        if self.kube:
            kubeobjects.create_namespace(shared.api, namespace)
            for k in range(1, MAX_NADS + 1):
                kubeobjects.create_nad(
                    shared.api, namespace, nad_name(k), json.dumps(macvlan_conf(dirs, k))
                )
            self.site.forwarder = ApiForwarder(node.name, server_port(shared.sa_kubeconfig))
        self.start()

    def start(self) -> None:
        """Start long-lived processes (daemons). Nothing for exec-per-call plugins."""

    def stop(self) -> None:
        """Stop long-lived processes."""

    def daemon_pids(self) -> list[int]:
        """Pids of long-lived processes whose CPU/RSS belong to this implementation."""
        return []

    def daemon_cpu(self) -> float:
        """CPU seconds so far of the daemons, their reaped children included."""
        total = 0.0
        for pid in self.daemon_pids():
            with contextlib.suppress(OSError):
                total += proc_cpu(pid)
        return total

    def teardown(self) -> list[str]:
        """Stop daemons, the API forwarder, and ask for the namespace's deletion."""
        errors: list[str] = []
        try:
            self.stop()
        except Exception as e:  # noqa: BLE001 - teardown keeps going
            errors.append(f"{self.key} stop: {e}")
        if self.site is not None and self.site.forwarder is not None:
            self.site.forwarder.close()
        if self.kube and self.shared is not None and self.site is not None:
            try:
                kubeobjects.delete_namespace(self.shared.api, self.site.namespace)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{self.key} namespace: {e}")
        return errors

    # ------------------------------------------------------------------ pods

    @property
    def s(self) -> Site:
        if self.site is None:
            raise RuntimeError(f"{self.key}: not set up")
        return self.site

    def new_pod(self, name: str, nads: int) -> BenchPod:
        """An API pod bound to the node with ``nads`` NADs in its annotation, and a netns."""
        assert self.shared is not None
        uid = str(uuid.uuid4())
        if self.kube:
            annotations = {NETWORKS: ",".join(nad_name(k) for k in range(1, nads + 1))}
            created = kubeobjects.create_pod(
                self.shared.api,
                self.s.namespace,
                name,
                node_name=NODE_NAME,
                annotations=annotations if nads else None,
            )
            uid = str(created.metadata.uid)
        pod = BenchPod(
            self.s.namespace, name, uid, self.shared.lab.pod(), f"ctr{uuid.uuid4().hex[:16]}", nads
        )
        self.pods.append(pod)
        return pod

    def drop_pod(self, pod: BenchPod) -> None:
        """Delete the pod's netns (the API object goes with the namespace at the end)."""
        assert self.shared is not None
        self.shared.lab.delete(pod.netns)

    # ------------------------------------------------------------------ CNI calls

    def env(self, command: str, pod: BenchPod, ifname_: str = "eth0") -> dict[str, str]:
        return nslab.cni_env(
            command,
            containerid=pod.container_id,
            netns=pod.netns_path,
            ifname=ifname_,
            args=pod.cni_args,
            path=CNI_BIN_DIR,
        )

    def add(self, pod: BenchPod) -> Exec:
        raise NotImplementedError

    def delete(self, pod: BenchPod) -> Exec:
        raise NotImplementedError

    # ------------------------------------------------------------------ checks

    def expected(self, pod: BenchPod) -> list[tuple[str, str]]:
        """(network-status name, interface) per attachment, in order."""
        out = [(CLUSTER_NETWORK, "eth0")]
        out += [(f"{pod.namespace}/{nad_name(k)}", ifname(k)) for k in range(1, pod.nads + 1)]
        return out

    def check_added(self, pod: BenchPod) -> list[str]:
        """The pod netns holds exactly the expected interfaces; for API-backed rows the
        network-status annotation matches the netns (names, interfaces, IPs, MACs)."""
        problems: list[str] = []
        links = nslab.links(pod.netns)
        want_ifs = {"lo", *(i for _, i in self.expected(pod))}
        if set(links) != want_ifs:
            problems.append(f"pod netns links {sorted(links)} != {sorted(want_ifs)}")
        if not self.kube:
            return problems
        assert self.shared is not None
        raw = kubeobjects.pod_annotations(self.shared.api, pod.namespace, pod.name).get(
            NETWORK_STATUS
        )
        if not raw:
            return [*problems, "no network-status annotation"]
        entries = json.loads(raw)
        if raw != go_indent(entries):
            problems.append("network-status not in upstream's rendering")
        got = [(e.get("name"), e.get("interface")) for e in entries]
        if got != self.expected(pod):
            problems.append(f"network-status entries {got} != {self.expected(pod)}")
        if [bool(e.get("default")) for e in entries][:1] != [True]:
            problems.append("first network-status entry is not default")
        addrs = nslab.addresses(pod.netns, family=4)
        for e in entries:
            name = str(e.get("interface"))
            if name not in links:
                continue
            if e.get("mac") != links[name].get("address"):
                problems.append(f"{name}: mac {e.get('mac')} != {links[name].get('address')}")
            ips = [a.split("/")[0] for a in addrs.get(name, [])]
            if e.get("ips") != ips:
                problems.append(f"{name}: ips {e.get('ips')} != netns {ips}")
        return problems

    def leftovers(self, pods: Sequence[BenchPod]) -> list[str]:
        """Links in pod/node namespaces, host-local leases, files in cniDir."""
        problems = []
        for pod in pods:
            left = nslab.link_names(pod.netns) - {"lo"}
            if left:
                problems.append(f"pod {pod.name}: links {sorted(left)}")
        node_links = self.s.node.link_names() - NODE_BASE_LINKS
        extra = sorted(n for n in node_links if n != "cni0")
        if extra:
            problems.append(f"node links {extra[:5]}{'…' if len(extra) > 5 else ''}")
        leases = nslab.host_local_leases(self.s.dirs.ipam)
        if leases:
            problems.append(
                "leases held: " + ", ".join(f"{net}: {len(ips)}" for net, ips in leases.items())
            )
        files = sorted(
            str(p.relative_to(self.s.dirs.cni)) for p in self.s.dirs.cni.rglob("*") if p.is_file()
        )
        if files:
            problems.append(f"cache files: {files[:4]}{'…' if len(files) > 4 else ''}")
        return problems

    def clear_state(self) -> None:
        """Remove leases and cache files a failed/leaky DEL left, so later pods of this
        implementation are measured from a clean state (the finding is already recorded)."""
        for base in (self.s.dirs.ipam, self.s.dirs.cni):
            for p in sorted(base.rglob("*"), reverse=True):
                if p.is_file() and p.name != "lock":
                    p.unlink()


# --------------------------------------------------------------------------- configs


def cluster_conflist(dirs: Dirs) -> dict[str, Any]:
    """The cluster network: bridge ``cni0`` + host-local, as a conflist file."""
    return {
        "cniVersion": CNI_VERSION,
        "name": CLUSTER_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "ipam": {"type": "host-local", "subnet": CLUSTER_SUBNET, "dataDir": str(dirs.ipam)},
            }
        ],
    }


def macvlan_conf(dirs: Dirs, k: int) -> dict[str, Any]:
    """NAD ``net-<k>``: macvlan on the node's ``eth0``, host-local 192.168.<k>.0/24."""
    return {
        "cniVersion": CNI_VERSION,
        "name": nad_name(k),
        "type": "macvlan",
        "master": nslab.NODE_UPLINK,
        "mode": "bridge",
        "ipam": {"type": "host-local", "subnet": f"192.168.{k}.0/24", "dataDir": str(dirs.ipam)},
    }


def multus_conf(site: Site, kubeconfig: Path, **extra: Any) -> dict[str, Any]:
    """A Kubernetes-mode Multus config whose cluster network is the conflist file."""
    conf: dict[str, Any] = {
        "cniVersion": CNI_VERSION,
        "name": "multus-cni-network",
        "type": "multus",
        "kubeconfig": str(kubeconfig),
        "cniDir": str(site.dirs.cni),
        "confDir": str(site.conf_dir),
        "binDir": CNI_BIN_DIR,
        "clusterNetwork": str(site.cluster_conflist),
        "logLevel": "error",
        "logFile": str(site.dirs.root / "multus.log"),
    }
    conf.update(extra)
    return conf


# --------------------------------------------------------------------------- rows


@dataclass
class RawDelegates(Implementation):
    """The floor: bridge and macvlan executed directly, one after the other, as a runtime
    would with one conflist per network. No API, no Multus."""

    def _plugin_confs(self, pod: BenchPod) -> list[tuple[str, dict[str, Any]]]:
        cluster = cluster_conflist(self.s.dirs)
        first = dict(cluster["plugins"][0], name=CLUSTER_NETWORK, cniVersion=CNI_VERSION)
        out = [("eth0", first)]
        out += [(ifname(k), macvlan_conf(self.s.dirs, k)) for k in range(1, pod.nads + 1)]
        return out

    def _run_all(self, command: str, pod: BenchPod) -> Exec:
        confs = self._plugin_confs(pod)
        if command == "DEL":
            confs.reverse()
        runs = []
        for ifn, conf in confs:
            runs.append(
                run_timed(
                    [f"{CNI_BIN_DIR}/{conf['type']}"],
                    env=self.env(command, pod, ifn),
                    stdin=json.dumps(conf).encode(),
                    netns=self.s.node.name,
                )
            )
            if runs[-1].rc != 0:
                break
        bad = [r for r in runs if r.rc != 0]
        return Exec(
            rc=bad[0].rc if bad else 0,
            stdout=bad[0].stdout if bad else "",
            stderr=bad[0].stderr if bad else "",
            wall=sum(r.wall for r in runs),
            cpu=sum(r.cpu for r in runs),
            began=runs[0].began,
            ended=runs[-1].ended,
        )

    def add(self, pod: BenchPod) -> Exec:
        return self._run_all("ADD", pod)

    def delete(self, pod: BenchPod) -> Exec:
        return self._run_all("DEL", pod)


@dataclass
class ThinPlugin(Implementation):
    """A thin ``multus`` executable (ours or upstream's), executed per call in the node."""

    binary: Path = Path()
    #: Prepended to the command line (a profiler, for ``--profile``).
    prefix: list[str] = field(default_factory=list)

    def conf(self, pod: BenchPod) -> dict[str, Any]:
        assert self.shared is not None
        if self.kube:
            return multus_conf(self.s, self.kubeconfig())
        # delegates mode (no API): the cluster conflist and the pod's macvlans, inline
        conf = multus_conf(self.s, Path())
        del conf["kubeconfig"], conf["clusterNetwork"]
        conf["delegates"] = [cluster_conflist(self.s.dirs)] + [
            macvlan_conf(self.s.dirs, k) for k in range(1, pod.nads + 1)
        ]
        return conf

    def call(self, command: str, pod: BenchPod) -> Exec:
        return run_timed(
            [*self.prefix, str(self.binary)],
            env=self.env(command, pod),
            stdin=json.dumps(self.conf(pod)).encode(),
            netns=self.s.node.name,
        )

    def add(self, pod: BenchPod) -> Exec:
        return self.call("ADD", pod)

    def delete(self, pod: BenchPod) -> Exec:
        return self.call("DEL", pod)


@dataclass
class Daemon:
    """A long-lived process started inside the node namespace, stopped on teardown."""

    argv: list[str]
    netns: str
    log: Path
    env: Mapping[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, *self.argv],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                start_new_session=True,
                preexec_fn=controlplane._die_with_parent,  # noqa: PLW1509
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def wait_for(self, path: Path, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.proc is None or self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.argv[0]} exited before creating {path}:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.argv[0]} did not create {path} in {timeout:.0f}s")
            time.sleep(0.05)


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


#: Temp dirs of installed plugins, removed by bench/run.py at exit.
INSTALL_DIRS: list[Path] = []


def install_python_layout(venv_bin: Path, notes: list[str], entry: str = "multus") -> Path:
    """``multusctl install --layout python`` into a temp bin dir: the launcher a node gets
    (host ``python3 -IS``, private copy of the package). ``entry`` is ``multus`` (the thin
    plugin) or ``multus-shim`` (installed with ``--with-shim``). Falls back to the venv's
    console script of the same name."""
    target = Path(tempfile.mkdtemp(prefix="multusctl-bench-bin-"))
    INSTALL_DIRS.append(target)
    extra = ["--with-shim"] if entry == "multus-shim" else []
    proc = subprocess.run(
        [
            str(venv_bin / "multusctl"),
            "install",
            "--layout",
            "python",
            "--cni-bin-dir",
            str(target),
            "--skip-config",
            "--skip-kubeconfig",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0 or not is_executable(target / entry):
        notes.append(
            f"python layout install of {entry} failed ({proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-300:]}; using the venv script"
        )
        return venv_bin / entry
    return target / entry
