"""A throw-away Kubernetes control plane: real etcd + real kube-apiserver on loopback.

Plain Python (stdlib + the ``openssl`` and ``kubectl`` tools), no pytest, so the test
fixtures, ``bench/`` and the demo can all use it::

    from controlplane import ControlPlane

    with ControlPlane() as cp:                 # binaries from tests/cluster/build.sh
        cp.kubectl("get", "namespaces")
        kubeconfig = cp.service_account_kubeconfig("kube-system", "multus")

What :meth:`ControlPlane.start` sets up, all inside one fresh temporary directory:

* a CA, a serving certificate for ``127.0.0.1``/``localhost`` and an admin client
  certificate (``O=system:masters``), generated per run with ``openssl``;
* a service-account signing key and issuer, so the TokenRequest API works;
* etcd and kube-apiserver on random free loopback ports, ``--authorization-mode=RBAC``;
* ``admin.kubeconfig``; readiness is ``/readyz`` plus the ``kube-system`` namespace.

:meth:`ControlPlane.stop` terminates both processes (SIGTERM, then SIGKILL) and removes the
directory; it is safe to call twice and runs from ``__exit__`` on success and failure. The
children also get ``PR_SET_PDEATHSIG`` so they die with the Python process that started them
even if that process is killed hard (start them from the main thread).

The binaries are built by ``tests/cluster/build.sh``; when they are missing,
:class:`BinariesMissingError` names that script.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build.sh"
#: Name prefix of every temporary directory a control plane creates (leak checks use it).
TMP_PREFIX = "multusctl-cp-"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlaneError(RuntimeError):
    """The control plane could not be started or used."""


class BinariesMissingError(ControlPlaneError):
    """kube-apiserver / etcd / cnitool have not been built for the current pins."""


@dataclass(frozen=True)
class Binaries:
    """Paths of the binaries built by ``tests/cluster/build.sh``."""

    kube_apiserver: Path
    etcd: Path
    cnitool: Path


def bin_dir() -> Path:
    """The directory ``build.sh`` builds into for the current pins (it may not exist yet)."""
    if env := os.environ.get("MULTUSCTL_TEST_BIN_DIR"):
        return Path(env)
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-bin-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ControlPlaneError(
            f"{BUILD_SCRIPT} --print-bin-dir failed ({proc.returncode}): {proc.stderr.strip()}"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def find_binaries(directory: Path | None = None) -> Binaries:
    """Locate the built binaries, or raise :class:`BinariesMissingError` naming build.sh."""
    where = directory if directory is not None else bin_dir()
    paths = Binaries(
        kube_apiserver=where / "kube-apiserver", etcd=where / "etcd", cnitool=where / "cnitool"
    )
    missing = [
        p.name
        for p in (paths.kube_apiserver, paths.etcd, paths.cnitool)
        if not os.access(p, os.X_OK)
    ]
    if missing:
        raise BinariesMissingError(
            f"test binaries not built: {', '.join(missing)} missing in {where}. "
            f"Run tests/cluster/build.sh (a cold build takes many minutes)."
        )
    return paths


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """preexec_fn: deliver SIGKILL to the child when the starting thread goes away."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed: {proc.stderr.strip()}")


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ControlPlane:
    """One etcd + kube-apiserver pair in its own temporary directory. See the module doc."""

    def __init__(
        self,
        binaries: Binaries | None = None,
        *,
        kubectl: str = "kubectl",
        tmp_parent: Path | None = None,
        start_timeout: float = 90.0,
        extra_apiserver_args: Sequence[str] = (),
    ) -> None:
        self._binaries = binaries
        #: Appended to kube-apiserver's command line (e.g. audit flags for ``bench/``).
        self._extra_apiserver_args = tuple(extra_apiserver_args)
        self.kubectl_path = kubectl
        self._tmp_parent = tmp_parent
        self._start_timeout = start_timeout
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._workdir: Path | None = None
        self.server = ""
        self.etcd_url = ""
        #: Seconds :meth:`start` took (processes up, ``/readyz`` ok, kube-system present).
        self.start_seconds = 0.0

    # -- lifecycle -------------------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise ControlPlaneError("control plane not started")
        return self._workdir

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = find_binaries()
        return self._binaries

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._workdir is not None:
            raise ControlPlaneError("control plane already started")
        binaries = self.binaries  # fail before creating anything
        began = time.monotonic()
        self._workdir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self._tmp_parent))
        try:
            self._make_pki()
            self._start_etcd(binaries.etcd)
            self._start_apiserver(binaries.kube_apiserver)
            self._write_admin_kubeconfig()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Terminate the processes (apiserver first) and remove the temporary directory."""
        # One at a time: the apiserver shuts down quickly only while etcd still answers.
        while self._procs:
            _name, proc = self._procs.pop()
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def pid(self, name: str) -> int | None:
        """Process id of ``"etcd"`` or ``"kube-apiserver"`` while it runs (CPU accounting)."""
        for proc_name, proc in self._procs:
            if proc_name == name and proc.poll() is None:
                return proc.pid
        return None

    # -- set-up steps ----------------------------------------------------------------

    def _make_pki(self) -> None:
        pki = self.workdir / "pki"
        pki.mkdir(mode=0o700)
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        _openssl(
            "req",
            "-x509",
            *ec,
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=multusctl-test-ca",
            cwd=pki,
        )
        leaves = {
            "apiserver": (
                "/CN=kube-apiserver",
                "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
                "DNS:kubernetes.default.svc",
                "extendedKeyUsage=serverAuth",
            ),
            "admin": (
                "/O=system:masters/CN=multusctl-test-admin",
                None,
                "extendedKeyUsage=clientAuth",
            ),
        }
        for name, (subj, san, eku) in leaves.items():
            ext = ["-addext", eku, "-addext", "basicConstraints=critical,CA:FALSE"]
            if san:
                ext += ["-addext", san]
            _openssl(
                "req",
                *ec,
                "-keyout",
                f"{name}.key",
                "-out",
                f"{name}.crt",
                "-subj",
                subj,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-days",
                "2",
                *ext,
                cwd=pki,
            )
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key", cwd=pki)
        _openssl("ec", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)

    def _spawn(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        with log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        self._procs.append((name, proc))
        return proc

    def _check_alive(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            raise ControlPlaneError(
                f"{name} exited with status {proc.returncode}; last log lines:\n"
                + _log_tail(self.workdir / f"{name}.log")
            )

    def _start_etcd(self, etcd: Path) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        proc = self._spawn(
            "etcd",
            [
                str(etcd),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        deadline = time.monotonic() + self._start_timeout
        while True:
            self._check_alive("etcd", proc)
            try:
                with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as r:
                    if json.loads(r.read()).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    "etcd did not become healthy:\n" + _log_tail(self.workdir / "etcd.log")
                )
            time.sleep(0.1)

    def _start_apiserver(self, apiserver: Path) -> None:
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        pki = self.workdir / "pki"
        self._spawn(
            "kube-apiserver",
            [
                str(apiserver),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
                *self._extra_apiserver_args,
            ],
        )

    def _write_admin_kubeconfig(self) -> None:
        pki = self.workdir / "pki"
        self._write_kubeconfig(
            self.admin_kubeconfig,
            "admin",
            {
                "client-certificate": str(pki / "admin.crt"),
                "client-key": str(pki / "admin.key"),
            },
        )

    def _write_kubeconfig(self, path: Path, user: str, credentials: dict[str, str]) -> None:
        # JSON is YAML: kubectl and the kubernetes Python client both read it.
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": user, "context": {"cluster": "test", "user": user}}],
            "current-context": user,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f, indent=2)

    def _admin_ssl_context(self) -> ssl.SSLContext:
        pki = self.workdir / "pki"
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return ctx

    def _wait_ready(self) -> None:
        ctx = self._admin_ssl_context()
        deadline = time.monotonic() + self._start_timeout
        checks = ["/readyz", "/api/v1/namespaces/kube-system"]
        last = ""
        while checks:
            for name, proc in self._procs:
                self._check_alive(name, proc)
            try:
                with urllib.request.urlopen(self.server + checks[0], context=ctx, timeout=5) as r:
                    if r.status == 200:
                        checks.pop(0)
                        continue
            except urllib.error.HTTPError as e:
                last = f"{checks[0]}: HTTP {e.code} {e.read()[:2000].decode(errors='replace')}"
            except OSError as e:
                last = f"{checks[0]}: {e}"
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"kube-apiserver not ready after {self._start_timeout:.0f}s ({last}); "
                    "last log lines:\n" + _log_tail(self.workdir / "kube-apiserver.log")
                )
            time.sleep(0.2)

    # -- helpers for users -----------------------------------------------------------

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        check: bool = True,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this control plane (admin credentials unless given)."""
        cfg = kubeconfig if kubeconfig is not None else self.admin_kubeconfig
        proc = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={cfg}", *args],
            capture_output=True,
            text=True,
            check=False,
            input=input_text,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise ControlPlaneError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def service_account_token(self, namespace: str, name: str, duration: str = "2h") -> str:
        """A bound token for the ServiceAccount, issued through the TokenRequest API."""
        token = self.kubectl(
            "create", "token", name, "-n", namespace, f"--duration={duration}"
        ).stdout.strip()
        if not token:
            raise ControlPlaneError(f"TokenRequest for {namespace}/{name} returned no token")
        return token

    def service_account_kubeconfig(
        self,
        namespace: str,
        name: str,
        path: Path | None = None,
    ) -> Path:
        """Write a kubeconfig that authenticates as ``system:serviceaccount:<ns>:<name>``."""
        target = path if path is not None else self.workdir / f"{namespace}-{name}.kubeconfig"
        token = self.service_account_token(namespace, name)
        self._write_kubeconfig(target, f"{namespace}-{name}", {"token": token})
        return target


def leftovers(tmp_parent: Path | None = None) -> list[str]:
    """Control-plane temp dirs still present (for leak checks)."""
    parent = tmp_parent if tmp_parent is not None else Path(tempfile.gettempdir())
    return sorted(p.name for p in parent.glob(f"{TMP_PREFIX}*"))
