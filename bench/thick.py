"""Thick rows: a long-lived daemon in the node namespace plus a per-call shim.

Upstream's ``multus-daemon`` (and ours, when it behaves the same) builds its Kubernetes
client in-cluster: ``KUBERNETES_SERVICE_HOST``/``PORT`` plus the token and CA under
``/var/run/secrets/kubernetes.io/serviceaccount``. The daemon is therefore started through
``ip netns exec`` (which gives it a private, slave mount namespace) and a small shell
prologue that mounts a tmpfs on ``/var`` *inside that namespace only* and writes the
multus ServiceAccount's token there. Nothing is mounted on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import impls
import manifests
from impls import BenchPod, Daemon, Implementation
from measure import Exec, run_timed

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PROLOGUE = (
    'mount -t tmpfs bench-var /var && mkdir -p "$SA_DIR" '
    '&& cp "$1" "$SA_DIR/token" && cp "$2" "$SA_DIR/ca.crt" '
    '&& echo kube-system > "$SA_DIR/namespace" && shift 2 && exec "$@"'
)


@dataclass
class ThickPlugin(Implementation):
    """``daemon_argv`` (``{config}`` is replaced by the daemon config path) + ``shim``."""

    daemon_argv: list[str] = field(default_factory=list)
    shim: Path = Path()
    daemon: Daemon | None = None

    @property
    def socket_dir(self) -> Path:
        return self.s.dirs.root / "run"

    def daemon_config(self) -> dict[str, Any]:
        site = self.s
        return {
            "cniVersion": impls.CNI_VERSION,
            "logLevel": os.environ.get("BENCH_DAEMON_LOG_LEVEL", "error"),
            "logFile": str(site.dirs.root / "daemon.log"),
            "logToStderr": False,
            "cniConfigDir": str(site.conf_dir),
            # auto, as the shipped thick ConfigMap has it: upstream's daemon exits right
            # after start-up with any other value (its bug; ours runs either way).
            "multusConfigFile": "auto",
            "multusAutoconfigDir": str(site.conf_dir),
            "socketDir": str(self.socket_dir) + "/",
            "clusterNetwork": str(site.cluster_conflist),
            "cniDir": str(site.dirs.cni),
            "confDir": str(site.conf_dir),
            "binDir": impls.CNI_BIN_DIR,
        }

    def shim_conf(self) -> dict[str, Any]:
        return {
            "cniVersion": impls.CNI_VERSION,
            "name": "multus-cni-network",
            "type": "multus-shim",
            "daemonSocketDir": str(self.socket_dir) + "/",
            "logLevel": "error",
            "logFile": str(self.s.dirs.root / "shim.log"),
        }

    def start(self) -> None:
        assert self.shared is not None
        root = self.s.dirs.root
        self.socket_dir.mkdir(exist_ok=True)
        cfg = root / "daemon-config.json"
        cfg.write_text(json.dumps(self.daemon_config(), indent=2))
        token = root / "sa-token"
        token.write_text(
            self.shared.cp.service_account_token(manifests.MULTUS_NAMESPACE, self.service_account)
        )
        url = urllib.parse.urlsplit(self.shared.cp.server)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "SA_DIR": SA_DIR,
            "KUBERNETES_SERVICE_HOST": str(url.hostname),
            "KUBERNETES_SERVICE_PORT": str(url.port),
            "MULTUS_NODE_NAME": impls.NODE_NAME,
        }
        argv = [a.replace("{config}", str(cfg)) for a in self.daemon_argv]
        self.daemon = Daemon(
            ["sh", "-c", PROLOGUE, "sh", str(token), str(self.shared.cp.ca_file), *argv],
            self.s.node.name,
            root / "daemon.out",
            env=env,
        )
        self.daemon.start()
        self.daemon.wait_for(self.socket_dir / "multus.sock")

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None

    def daemon_pids(self) -> list[int]:
        pid = self.daemon.pid if self.daemon is not None else None
        return [pid] if pid else []

    def call(self, command: str, pod: BenchPod) -> Exec:
        return run_timed(
            [str(self.shim)],
            env=self.env(command, pod),
            stdin=json.dumps(self.shim_conf()).encode(),
            netns=self.s.node.name,
        )

    def add(self, pod: BenchPod) -> Exec:
        return self.call("ADD", pod)

    def delete(self, pod: BenchPod) -> Exec:
        return self.call("DEL", pod)


def _ours_daemon_argv(venv_bin: Path) -> list[str] | None:
    exe = venv_bin / "multusctl"
    if not impls.is_executable(exe):
        return None
    proc = subprocess.run(
        [str(exe), "daemon", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        return None
    return [str(exe), "daemon", "--config", "{config}"]


def _ours_shim(venv_bin: Path, scratch: Path, notes: list[str], python_layout: bool) -> Path:
    """``multus-shim`` as a node gets it: ``multusctl install --layout python --with-shim``
    into a temp bin dir (``#!/usr/bin/python3 -IS`` launcher, private copy of the package).
    Without ``python_layout``, or when that install fails: the venv's console script, or
    (before the venv is re-installed with it) an equivalent launcher written to ``scratch``."""
    shim = venv_bin / "multus-shim"
    if python_layout:
        shim = impls.install_python_layout(venv_bin, notes, entry="multus-shim")
    if impls.is_executable(shim):
        return shim
    if not (impls.REPO / "multusctl" / "bin" / "shim.py").exists():
        return shim
    scratch.mkdir(parents=True, exist_ok=True)
    launcher = scratch / "multus-shim"
    launcher.write_text(
        f"#!{venv_bin / 'python'}\nfrom multusctl.bin.shim import main\nmain()\n"
    )
    launcher.chmod(0o755)
    return launcher


def discover(
    venv_bin: Path, upstream_dir: Path, scratch: Path, *, python_layout: bool = True
) -> tuple[list[Implementation], list[str]]:
    """Thick rows whose executables exist. Ours runs the shim a node gets from
    ``multusctl install --layout python --with-shim`` (``python_layout``, the default) or the
    venv's console script."""
    found: list[Implementation] = []
    notes: list[str] = []
    ours_shim = _ours_shim(venv_bin, scratch, notes, python_layout)
    ours_daemon = _ours_daemon_argv(venv_bin)
    if ours_daemon and impls.is_executable(ours_shim):
        found.append(
            ThickPlugin("ours-thick", "multusctl thick", daemon_argv=ours_daemon, shim=ours_shim)
        )
    else:
        notes.append(f"ours thick missing (`multusctl daemon` and {ours_shim} needed)")
    up_daemon, up_shim = upstream_dir / "multus-daemon", upstream_dir / "multus-shim"
    if impls.is_executable(up_daemon) and impls.is_executable(up_shim):
        found.append(
            ThickPlugin(
                "upstream-thick",
                "upstream thick",
                daemon_argv=[str(up_daemon), "-config", "{config}"],
                shim=up_shim,
            )
        )
    else:
        notes.append(f"upstream thick missing in {upstream_dir}")
    return found, notes
