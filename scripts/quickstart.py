# ruff: noqa: T201, S101 - a console script: prints by design; asserts narrow types
"""The upstream quickstart guide, run end to end on this machine (driver of quickstart.sh).

No cluster to install: the API server is the test tier's real etcd + kube-apiserver
(tests/cluster/controlplane.py), the node is a network namespace with a veth ``eth0``
(tests/privileged/netns.py), and the container runtime is ``cnitool`` (libcni's reference
client, built by tests/cluster/build.sh). Everything else is what a user runs:

1. ``kubectl apply -f deployments/multus-daemonset.yml``;
2. the DaemonSet's two steps on the node: ``multusctl install`` (the plugin into
   /opt/cni/bin) and ``multusctl entrypoint --multus-conf-file=auto`` (00-multus.conf and
   the kubeconfig from the multus ServiceAccount's token), next to a default network
   config (bridge + host-local, standing in for Flannel);
3. the guide's ``macvlan-conf`` NetworkAttachmentDefinition and ``samplepod``, verbatim;
4. the runtime's ADD, then ``ip a`` in the pod (lo, eth0, net1) and the pod's
   network-status annotation; then DEL, and everything removed.

The node's "host" directories live in a temp root: /etc/cni/net.d and /opt/cni/bin are
passed as flags; /var/lib (multus' cache, libcni's cache, host-local's leases, all at
their default paths) is a bind mount visible only to the plugin processes. So the seed
YAML runs unchanged and nothing outside the temp root is written.

With ``--thick`` the same flow runs through the thick plugin, as the guide installs it
(``deployments/multus-daemonset-thick-plugin.yml``): the DaemonSet's init container's own
``multusctl install --shim-only`` command (from the applied DaemonSet, its /host paths
moved to the temp root, whose /usr is this machine's) puts ``multus-shim`` into the node's
/opt/cni/bin, ``multusctl daemon`` runs inside the node namespace with the manifest's
``daemon-config.json`` (its /host paths moved likewise) and writes ``00-multus.conf`` for
the shim, and the runtime's ADD/DEL go cnitool → multus-shim → daemon. This machine has
python3 >= 3.11, so the shim is the python launcher; ``--node-without-python`` gives the
node an empty /usr instead, and the init container installs the image's frozen shim (built
by scripts/build-node-binary.sh when not current).

    python scripts/quickstart.py --workdir DIR [--prefix mct-qs-123-]
                                 [--thick [--node-without-python]]

Run it through scripts/quickstart.sh (root, traps, set-up checks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "cluster"))
sys.path.insert(0, str(REPO / "tests" / "privileged"))

import controlplane  # noqa: E402
import netns as nslab  # noqa: E402
import seeds  # noqa: E402
import thicklab  # noqa: E402
from thinlab import ApiForwarder  # noqa: E402

from multusctl.installer.install import HostPaths, find_host_python  # noqa: E402

BIN = Path(sys.executable).parent
MULTUSCTL = BIN / "multusctl"
REFERENCE_PLUGINS = Path("/usr/lib/cni")
NODE_NAME = "node-1"
#: scripts/build-node-binary.sh's output (MULTUSCTL_FROZEN_OUT as in the tests).
FROZEN_OUT = Path(os.environ.get("MULTUSCTL_FROZEN_OUT") or REPO / "build" / "node")
FROZEN_DIR = FROZEN_OUT / "multus"
FROZEN_SHIM_DIR = FROZEN_OUT / "multus-shim"
MULTUS_NAMESPACE = "kube-system"
#: The thick DaemonSet mounts the node's directories under /host (and its / at /hostroot);
#: the image keeps the frozen shim here.
HOST_MOUNT = "/host"
HOSTROOT_MOUNT = "/hostroot"
IMAGE_SHIM_DIR = "/usr/src/multus-cni/frozen/multus-shim"

# ---- from the quickstart guide, verbatim (tests/cluster/seeds.py) ---------------------
SEED_NAD = seeds.QUICKSTART_NAD
SEED_POD = seeds.QUICKSTART_POD
# The node's default network, standing in for Flannel (whose name in the guide is cbr0).
DEFAULT_NETWORK = {
    "cniVersion": "0.3.1",
    "name": "cbr0",
    "plugins": [
        {
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": True,
            "ipMasq": False,
            "ipam": {"type": "host-local", "subnet": "10.244.1.0/24",
                     "routes": [{"dst": "0.0.0.0/0"}]},
        }
    ],
}

BOLD, PLAIN = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{PLAIN}", flush=True)


def show(cmd: str, output: str) -> None:
    print(f"$ {cmd}")
    print(output.rstrip("\n"), flush=True)


class QuickstartError(RuntimeError):
    pass


def terminate(proc: subprocess.Popen[bytes], grace: float) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds; False when it took the SIGKILL."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


class Quickstart:
    """The thin plugin's quickstart (``deployments/multus-daemonset.yml``)."""

    manifest = "deployments/multus-daemonset.yml"
    removed = "the entrypoint (and the 00-multus.conf it generated)"

    def __init__(self, workdir: Path, prefix: str) -> None:
        self.work = workdir
        self.host = workdir / "node-root"
        self.conf_dir = self.host / "etc" / "cni" / "net.d"
        self.bin_dir = self.host / "opt" / "cni" / "bin"
        self.var_lib = self.host / "var" / "lib"
        self.sa_dir = workdir / "serviceaccount"
        self.lab = nslab.Lab(prefix)
        self.cp: controlplane.ControlPlane | None = None
        self.forwarder: ApiForwarder | None = None
        self.entrypoint: subprocess.Popen[bytes] | None = None
        self.node: nslab.Node | None = None
        self.pod_ns = ""
        self.added = False

    # ------------------------------------------------------------------ helpers

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        assert self.cp is not None
        return self.cp.kubectl(*args, input_text=input_text).stdout

    def node_exec(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the node namespace, with /var/lib bound to the node root's
        (in the private mount namespace of ``ip netns exec``)."""
        assert self.node is not None
        script = 'mount --bind "$1" /var/lib && shift && exec "$@"'
        return ["ip", "netns", "exec", self.node.name, "sh", "-c", script, "sh",
                str(self.var_lib), *argv]

    def cnitool(self, command: str, cni_args: str) -> subprocess.CompletedProcess[bytes]:
        """cnitool inside the node namespace, as the node's runtime."""
        assert self.cp is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "NETCONFPATH": str(self.conf_dir),
            "CNI_PATH": f"{self.bin_dir}:{REFERENCE_PLUGINS}",
            "CNI_ARGS": cni_args,
        }
        argv = self.node_exec([str(self.cp.binaries.cnitool), command, "multus-cni-network",
                               str(nslab.NETNS_DIR / self.pod_ns)])
        return subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)

    def write_service_account(self) -> tuple[str, str]:
        """The multus ServiceAccount's token and CA, as kubelet mounts them into the pod;
        returns the API server's host and port (KUBERNETES_SERVICE_HOST/_PORT)."""
        assert self.cp is not None
        token = self.cp.service_account_token(MULTUS_NAMESPACE, "multus")
        (self.sa_dir / "token").write_text(token)
        shutil.copyfile(self.cp.ca_file, self.sa_dir / "ca.crt")
        print(f"service account token: TokenRequest for {MULTUS_NAMESPACE}/multus "
              f"(kubectl create token multus -n {MULTUS_NAMESPACE})")
        host, port = self.cp.server.removeprefix("https://").rsplit(":", 1)
        return host, port

    # ------------------------------------------------------------------ steps

    def start_control_plane(self) -> None:
        say("A cluster: etcd + kube-apiserver on loopback (no kubelet, no scheduler)")
        self.cp = controlplane.ControlPlane(tmp_parent=self.work)
        self.cp.start()
        print(f"API server {self.cp.server}, up in {self.cp.start_seconds:.1f} s")

    def apply_manifest(self) -> None:
        say(f"Installation: kubectl apply -f {self.manifest}")
        show(f"kubectl apply -f {self.manifest}",
             self.kubectl("apply", "-f", str(REPO / self.manifest)))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/network-attachment-definitions.k8s.cni.cncf.io")
        print("(no kubelet runs the DaemonSet here: its two containers' commands run "
              "below, against a node namespace)")

    def make_node(self) -> None:
        say(f"Node {NODE_NAME}: a network namespace with eth0, and a default network")
        self.node = self.lab.node()
        print(f"node namespace {self.node.name}: eth0 (veth) is the host interface the "
              "guide's macvlan uses")
        for d in (self.conf_dir, self.bin_dir, self.var_lib, self.sa_dir):
            d.mkdir(parents=True, exist_ok=True)
        master = self.conf_dir / "10-cbr0.conflist"
        master.write_text(json.dumps(DEFAULT_NETWORK, indent=2) + "\n")
        show(f"cat {master}", master.read_text())
        assert self.cp is not None
        port = int(self.cp.server.rsplit(":", 1)[1])
        # the node namespace's 127.0.0.1:<port> reaches the API server (a real node's
        # host network namespace would reach it directly)
        self.forwarder = ApiForwarder(self.node.name, port)

    def install_plugin(self) -> None:
        """What the DaemonSet's init container puts into the node's /opt/cni/bin."""
        say("DaemonSet init container: multusctl install --skip-config")
        argv = [str(MULTUSCTL), "install", "--skip-config", "--layout=auto",
                f"--cni-bin-dir={self.bin_dir}"]
        if (FROZEN_DIR / "multus").exists():
            argv.append(f"--frozen-dir={FROZEN_DIR}")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        show("multusctl install --skip-config --layout=auto --cni-bin-dir=<node>/opt/cni/bin",
             proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise QuickstartError("multusctl install failed")

    def start_node_agent(self) -> None:
        """The DaemonSet's container: here ``multusctl entrypoint``."""
        say("DaemonSet container: multusctl entrypoint --multus-conf-file=auto")
        host, port = self.write_service_account()
        env = dict(os.environ, KUBERNETES_SERVICE_HOST=host, KUBERNETES_SERVICE_PORT=port)
        kubeconfig = self.conf_dir / "multus.d" / "multus.kubeconfig"
        argv = [str(MULTUSCTL), "entrypoint", "--multus-conf-file=auto",
                f"--multus-autoconfig-dir={self.conf_dir}", f"--cni-conf-dir={self.conf_dir}",
                f"--cni-bin-dir={self.bin_dir}", "--cleanup-config-on-exit=true",
                "--skip-multus-binary-copy=true",
                f"--multus-kubeconfig-file-host={kubeconfig}",
                f"--service-account-dir={self.sa_dir}"]
        print("$ multusctl entrypoint --multus-conf-file=auto --cni-conf-dir=<node>/etc/cni/"
              "net.d --cleanup-config-on-exit=true ... &")
        self.entrypoint = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        target = self.conf_dir / "00-multus.conf"
        deadline = time.monotonic() + 60
        while not (target.exists() and kubeconfig.exists()):
            if self.entrypoint.poll() is not None:
                out = self.entrypoint.stdout.read().decode() if self.entrypoint.stdout else ""
                raise QuickstartError(f"multusctl entrypoint exited:\n{out}")
            if time.monotonic() > deadline:
                raise QuickstartError("multusctl entrypoint wrote no 00-multus.conf in 60 s")
            time.sleep(0.05)
        time.sleep(0.2)
        self.show_conf_dir()

    def show_conf_dir(self) -> None:
        listing = sorted(str(p.relative_to(self.conf_dir)) for p in self.conf_dir.rglob("*"))
        show("ls -R <node>/etc/cni/net.d", "\n".join(listing))
        show("cat <node>/etc/cni/net.d/00-multus.conf",
             (self.conf_dir / "00-multus.conf").read_text())

    def create_nad(self) -> None:
        say("Creating additional interfaces: the guide's macvlan-conf")
        show("cat <<EOF | kubectl create -f -\n" + SEED_NAD + "EOF",
             self.kubectl("create", "-f", "-", input_text=SEED_NAD))
        show("kubectl get network-attachment-definitions",
             self.kubectl("get", "network-attachment-definitions"))

    def create_pod(self) -> tuple[str, str]:
        say("Creating a pod that attaches an additional interface: samplepod")
        doc = SEED_POD + f"  nodeName: {NODE_NAME}\n"
        print(f"(the guide's pod, plus `spec.nodeName: {NODE_NAME}`: there is no scheduler)")
        # No controller-manager runs here, so nothing creates the namespace's default
        # ServiceAccount that pod admission looks up; create it as the controller would.
        self.cp.kubectl("create", "serviceaccount", "default", "-n", "default", check=False)
        show("cat <<EOF | kubectl create -f -\n" + doc + "EOF",
             self.kubectl("create", "-f", "-", input_text=doc))
        uid = self.kubectl("get", "pod", "samplepod", "-o", "jsonpath={.metadata.uid}").strip()
        self.pod_ns = self.lab.pod()
        cid = f"quickstart-{uuid.uuid4().hex[:8]}"
        args = (f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;"
                f"K8S_POD_INFRA_CONTAINER_ID={cid};K8S_POD_UID={uid}")
        return uid, args

    def add(self, cni_args: str) -> None:
        say("The runtime wires the pod sandbox: cnitool add multus-cni-network")
        proc = self.cnitool("add", cni_args)
        show(f"NETCONFPATH=<node>/etc/cni/net.d cnitool add multus-cni-network "
             f"/run/netns/{self.pod_ns}", (proc.stdout + proc.stderr).decode())
        if proc.returncode != 0:
            raise QuickstartError(f"cnitool add failed with status {proc.returncode}: the "
                                  "plugin's error is above")
        self.added = True

    def inspect(self) -> None:
        say("kubectl exec -it samplepod -- ip a   (here: ip a in the pod's namespace)")
        out = subprocess.run(["ip", "-n", self.pod_ns, "a"], capture_output=True, text=True,
                             check=True).stdout
        show("ip a", out)
        names = nslab.link_names(self.pod_ns)
        missing = {"lo", "eth0", "net1"} - names
        if missing:
            raise QuickstartError(f"the pod lacks {sorted(missing)} (has {sorted(names)})")
        print("3 interfaces: lo (loopback), eth0 (the default network), net1 (macvlan-conf)")
        say("Network Status Annotations: kubectl describe pod samplepod")
        described = self.kubectl("describe", "pod", "samplepod")
        lines = described.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("Annotations:")),
                     None)
        if start is None:
            raise QuickstartError("the pod has no annotations")
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i] and not lines[i].startswith(" ")), len(lines))
        show("kubectl describe pod samplepod | sed -n '/^Annotations/,/^Status/p'",
             "\n".join(lines[start:end]))
        status = self.kubectl("get", "pod", "samplepod", "-o",
                              "jsonpath={.metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/"
                              "network-status}")
        entries = json.loads(status) if status else []
        names = [e.get("name") for e in entries]
        if len(names) != 2 or names[0] != "cbr0" or not str(names[1]).endswith("macvlan-conf"):
            raise QuickstartError(f"unexpected network-status: {status!r}")

    def delete(self, cni_args: str) -> None:
        say("The pod goes away: cnitool del multus-cni-network, kubectl delete")
        proc = self.cnitool("del", cni_args)
        show(f"cnitool del multus-cni-network /run/netns/{self.pod_ns}",
             (proc.stdout + proc.stderr).decode() or "(no output: success)")
        if proc.returncode != 0:
            raise QuickstartError(f"cnitool del failed with status {proc.returncode}")
        self.added = False
        left = nslab.link_names(self.pod_ns) - {"lo"}
        if left:
            raise QuickstartError(f"DEL left links in the pod: {sorted(left)}")
        show("kubectl delete pod samplepod", self.kubectl("delete", "pod", "samplepod",
                                                          "--wait=false"))

    def stop_node_agent(self) -> list[str]:
        """Stops the DaemonSet container's process; returns clean-up problems."""
        if self.entrypoint is None:
            return []
        proc, self.entrypoint = self.entrypoint, None
        terminate(proc, grace=15)
        out = proc.stdout.read().decode() if proc.stdout else ""
        show("multusctl entrypoint output (stopped with SIGTERM)", out)
        if (self.conf_dir / "00-multus.conf").exists():
            return ["00-multus.conf survived --cleanup-config-on-exit"]
        return []

    def cleanup(self) -> list[str]:
        problems: list[str] = []
        if self.added and self.cp is not None:
            try:
                self.cnitool("del", "IgnoreUnknown=1")
            except (OSError, subprocess.SubprocessError) as e:
                problems.append(f"cnitool del: {e}")
        problems += self.stop_node_agent()
        if self.forwarder is not None:
            self.forwarder.close()
        problems += self.lab.teardown()
        if self.cp is not None:
            self.cp.stop()
        return problems

    def run(self) -> None:
        self.start_control_plane()
        self.apply_manifest()
        self.make_node()
        self.install_plugin()
        self.start_node_agent()
        self.create_nad()
        _uid, cni_args = self.create_pod()
        self.add(cni_args)
        self.inspect()
        self.delete(cni_args)


class ThickQuickstart(Quickstart):
    """The same quickstart through the thick plugin: runtime → multus-shim → daemon."""

    manifest = "deployments/multus-daemonset-thick-plugin.yml"
    removed = ("the daemon (its 00-multus.conf stays, cleanupConfigOnExit being false, and "
               "goes with the temp root)")

    def __init__(self, workdir: Path, prefix: str, *, node_python: bool = True) -> None:
        super().__init__(workdir, prefix)
        #: False: the node's /usr has no python3, so the frozen shim is installed.
        self.node_python = node_python
        #: The kube-multus container's own files: its ConfigMap mount and credentials.
        self.container_dir = workdir / "kube-multus"
        self.daemon_log = workdir / "multus-daemon.log"
        self.daemon: subprocess.Popen[bytes] | None = None

    def node_path(self, path: str) -> str:
        """A path of the DaemonSet's containers as it is on this node: the node's
        directories are mounted under /host, and here they live in the temp root."""
        if path == HOSTROOT_MOUNT:
            # the whole host root: this machine's / (the node namespace shares it)
            return "/"
        if path == HOST_MOUNT:
            return str(self.host)
        if path.startswith(HOST_MOUNT + "/"):
            return f"{self.host}{path.removeprefix(HOST_MOUNT)}"
        return path

    def kube_multus_ds(self) -> dict[str, Any]:
        out = self.kubectl("get", "daemonset", "kube-multus-ds", "-n", MULTUS_NAMESPACE,
                           "-o", "json")
        pod_spec: dict[str, Any] = json.loads(out)["spec"]["template"]["spec"]
        return pod_spec

    def init_mounts(self, pod_spec: dict[str, Any], init: dict[str, Any]) -> None:
        """The init container's /host mounts, on this node: the node's own directories
        (/opt/cni/bin) are in the temp root already; a read-only mount of one of this
        machine's (/usr: the node namespace shares this machine's root) is a symlink to it,
        or, for a node without python, an empty stand-in."""
        volumes = {v["name"]: v for v in pod_spec["volumes"]}
        for mount in init["volumeMounts"]:
            path = str(mount["mountPath"])
            host_path = str(volumes[mount["name"]]["hostPath"]["path"]).rstrip("/")
            if path != f"{HOST_MOUNT}{host_path}":
                raise QuickstartError(f"init container mount {path} is not {HOST_MOUNT} + "
                                      f"its host path {host_path}")
            local = Path(self.node_path(path))
            if local.is_dir():
                continue  # a node directory the temp root already has
            if not mount.get("readOnly"):
                raise QuickstartError(f"init container mount {path}: read-write, and not one "
                                      "of the node's directories in the temp root")
            local.parent.mkdir(parents=True, exist_ok=True)
            if self.node_python or host_path != "/usr":
                local.symlink_to(host_path)
                print(f"<node>{host_path} -> {host_path} (this machine's, read-only in the "
                      "container)")
            else:
                (local / "bin").mkdir(parents=True)
                print(f"<node>{host_path}: an empty bin/ (--node-without-python: a node OS "
                      "without python3)")

    def frozen_shim(self) -> Path:
        """The image's frozen shim (scripts/build-node-binary.sh, reused while current)."""
        proc = subprocess.run(
            ["bash", str(REPO / "scripts" / "build-node-binary.sh"), "--target", "multus-shim",
             "--out", str(FROZEN_OUT)], capture_output=True, text=True, timeout=900,
            check=False)
        if proc.returncode != 0:
            raise QuickstartError("scripts/build-node-binary.sh --target multus-shim failed:\n"
                                  + proc.stderr[-3000:])
        lines = proc.stdout.strip().splitlines()
        built = Path(lines[-1]).parent if lines else FROZEN_SHIM_DIR
        print(f"the image's {IMAGE_SHIM_DIR}: {built} "
              "(scripts/build-node-binary.sh --target multus-shim, up to date)")
        return built

    def install_plugin(self) -> None:
        say("DaemonSet init container install-multus-shim: multus-shim into /opt/cni/bin")
        pod_spec = self.kube_multus_ds()
        (init,) = pod_spec["initContainers"]
        command = [str(c) for c in init["command"]]
        args = [str(a) for a in init.get("args") or []]
        if command[0] != "multusctl":
            raise QuickstartError(f"the init container runs {command}, not multusctl")
        self.init_mounts(pod_spec, init)
        # the installer reads the image's frozen shim only when the node has no python3
        # >= 3.11: make sure it is current then, as the image's would be
        has_python = find_host_python(HostPaths(str(self.host))) is not None
        image_shim = FROZEN_SHIM_DIR if has_python else self.frozen_shim()
        argv = [str(MULTUSCTL), *command[1:]]
        for arg in args:
            name, sep, value = arg.partition("=")
            if value == IMAGE_SHIM_DIR:
                value = str(image_shim)
            elif value == HOST_MOUNT or value.startswith(HOST_MOUNT + "/"):
                value = self.node_path(value)
            elif value.startswith("/"):
                raise QuickstartError(f"init container arg {arg}: a container path this "
                                      "quickstart does not map")
            argv.append(f"{name}{sep}{value}")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        show(" ".join([*command, *args]) + f"   ({HOST_MOUNT}: <node>, the image's "
             f"{IMAGE_SHIM_DIR}: {image_shim})", proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise QuickstartError("the init container's multusctl install failed")
        target = self.bin_dir / "multus-shim"
        show("ls -l <node>/opt/cni/bin", subprocess.run(
            ["ls", "-l", str(self.bin_dir)], capture_output=True, text=True, check=False,
        ).stdout)
        proc = subprocess.run([str(target)], env={"CNI_COMMAND": "VERSION"},
                              capture_output=True, text=True, timeout=60, check=False)
        show("CNI_COMMAND=VERSION <node>/opt/cni/bin/multus-shim", proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise QuickstartError("the installed multus-shim does not run")

    def daemon_config(self, manifest_conf: dict[str, Any]) -> dict[str, Any]:
        """The ConfigMap's daemon-config.json, adapted to a node without a kubelet."""
        conf = {key: self.node_path(value) if isinstance(value, str) else value
                for key, value in manifest_conf.items()}
        print("adapted for this node: /host/... paths -> <node>/..., /hostroot -> / "
              "(the node namespace shares this machine's root);")
        conf["daemonSocketDir"] = conf.get("socketDir", "/run/multus/")
        print("  daemonSocketDir = socketDir: 00-multus.conf then tells multus-shim where the "
              "socket is (its default is /run/multus/);")
        conf["kubeconfig"] = str(self.container_dir / "multus.kubeconfig")
        print("  kubeconfig: the ServiceAccount token as a kubeconfig (no pod, so no "
              "in-cluster token mount at /var/run/secrets);")
        conf["shutdownDelaySeconds"] = 0
        print("  shutdownDelaySeconds 0 instead of 10: no kubelet sends requests while the "
              "daemon shuts down here.")
        return conf

    def start_node_agent(self) -> None:
        path = "/etc/cni/net.d/multus.d/daemon-config.json"
        say(f"DaemonSet container kube-multus: multusctl daemon --config {path}")
        raw = self.kubectl("get", "configmap", "multus-daemon-config", "-n", MULTUS_NAMESPACE,
                           "-o", "jsonpath={.data.daemon-config\\.json}")
        show("kubectl get configmap multus-daemon-config -n kube-system "
             "-o jsonpath='{.data.daemon-config\\.json}'", raw)
        conf = self.daemon_config(json.loads(raw))
        self.container_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.container_dir / "daemon-config.json"
        config_file.write_text(json.dumps(conf, indent=4) + "\n")
        show(f"cat <kube-multus>{path}", config_file.read_text())
        host, port = self.write_service_account()
        proc = subprocess.run(
            [str(MULTUSCTL), "kubeconfig", f"--host={host}", f"--port={port}",
             f"--service-account-dir={self.sa_dir}", f"--output={conf['kubeconfig']}"],
            capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise QuickstartError(f"multusctl kubeconfig failed: {proc.stderr.strip()}")
        # the manifest's env: MULTUS_NODE_NAME from spec.nodeName
        env = dict(os.environ, MULTUS_NODE_NAME=NODE_NAME)
        print(f"$ MULTUS_NODE_NAME={NODE_NAME} multusctl daemon --config "
              f"<kube-multus>{path} &   (inside the node namespace)")
        with self.daemon_log.open("wb") as log:
            self.daemon = subprocess.Popen(
                self.node_exec([str(MULTUSCTL), "daemon", "--config", str(config_file)]),
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        sock = Path(conf.get("socketDir", "/run/multus/")) / "multus.sock"
        problem = thicklab.wait_serving(self.daemon, sock, timeout=90)
        if problem:
            raise QuickstartError(f"multusctl daemon: {problem}:\n{self.daemon_output()}")
        print(f"the daemon answers /healthz on <node>/run/multus/{sock.name}")
        target = self.conf_dir / "00-multus.conf"
        deadline = time.monotonic() + 60
        while not target.exists():
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise QuickstartError(f"multusctl daemon wrote no 00-multus.conf:\n"
                                      f"{self.daemon_output()}")
            time.sleep(0.05)
        time.sleep(0.2)
        self.show_conf_dir()

    def daemon_output(self) -> str:
        try:
            return self.daemon_log.read_text(errors="replace")
        except OSError:
            return "(no output)"

    def stop_node_agent(self) -> list[str]:
        if self.daemon is None:
            return []
        proc, self.daemon = self.daemon, None
        problems = []
        # the manifest's terminationGracePeriodSeconds
        if not terminate(proc, grace=30):
            problems.append("multusctl daemon did not stop within 30 s of SIGTERM")
        show("multusctl daemon output (stopped with SIGTERM)", self.daemon_output())
        if proc.returncode != 0:
            problems.append(f"multusctl daemon exited with status {proc.returncode}")
        return problems


def main() -> int:
    parser = argparse.ArgumentParser(description="the Multus quickstart, locally")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--prefix", default=nslab.default_prefix())
    parser.add_argument("--thick", action="store_true",
                        help="through the thick plugin (multus-shim + multusctl daemon)")
    parser.add_argument("--node-without-python", action="store_true",
                        help="with --thick: the node's /usr has no python3, so the init "
                        "container installs the frozen multus-shim (built if not current)")
    args = parser.parse_args()
    if args.node_without_python and not args.thick:
        parser.error("--node-without-python goes with --thick")
    qs = (ThickQuickstart(args.workdir, args.prefix, node_python=not args.node_without_python)
          if args.thick else Quickstart(args.workdir, args.prefix))
    status = 0
    try:
        qs.run()
    except (QuickstartError, controlplane.ControlPlaneError, nslab.NetnsError) as e:
        print(f"\nquickstart: FAILED: {e}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        status = 130
    finally:
        say("Clean-up")
        problems = qs.cleanup()
        for p in problems:
            print(f"quickstart: clean-up: {p}", file=sys.stderr)
        if problems:
            status = status or 1
        else:
            print(f"removed: the pod and node namespaces, {qs.removed}, the control plane")
    if status == 0:
        say("Done: the quickstart ran end to end")
    return status


if __name__ == "__main__":
    sys.exit(main())
