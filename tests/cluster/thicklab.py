"""The thick plugin in the cluster tier: ``multusctl daemon`` in the node namespace, and a
:class:`ThickWorld` whose ADD/DEL go runtime → ``multus-shim`` → daemon.

Plain Python (no pytest import), shared by ``test_thick.py`` and the thick half of
``test_thin_plugin.py``. The daemon runs *inside* the world's node network namespace, so
the delegates it executes build the node's links there; it reaches the API server through
the world's forwarder as the multus ServiceAccount, with ``MULTUS_NODE_NAME`` set.

The daemon config is made consistent with the world: every top-level key of it overrides
the same key of each request's Multus config (THK-10), so ``cniDir``, ``confDir`` and
``binDir`` are the world's own; the request's ``kubeconfig`` is never used by the daemon
(THK-11), so ``kubeconfig`` is the daemon's. :meth:`ThickWorld.effective_conf` is what the
core inside the daemon actually parses; ``multusctl explain`` is given that.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import thinlab
from thinlab import Pod, ThinWorld, nslab

__all__ = ["SHIM", "SHIM_PREFIX", "ThickDaemon", "ThickWorld", "free_port", "wait_serving"]

BIN = Path(sys.executable).parent
SHIM = Path(os.environ.get("MULTUS_SHIM_BIN") or BIN / "multus-shim")
MULTUSCTL = BIN / "multusctl"
#: THK-13: what the shim puts before the daemon's error text, per CNI command.
SHIM_PREFIX = {"ADD": "CmdAdd", "DEL": "CmdDel", "CHECK": "CmdCheck", "GC": "CmdGC",
               "STATUS": "CmdStatus"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthz(sock: Path) -> bool:
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


def wait_serving(proc: subprocess.Popen[bytes], sock: Path, timeout: float = 90) -> str:
    """Wait until the daemon ``proc`` answers ``/healthz`` on ``sock``: "" once it does,
    else why it did not (it exited, or the time ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            return f"daemon exited {proc.returncode}"
        if sock.exists() and healthz(sock):
            return ""
        if time.monotonic() > deadline:
            return f"no /healthz answer on {sock} in {timeout:.0f} s"
        time.sleep(0.1)


@dataclass
class ThickDaemon:
    """``multusctl daemon`` running inside the node namespace of ``world``."""

    world: ThinWorld
    root: Path
    metrics_port: int
    proc: subprocess.Popen[bytes] | None = None
    #: The daemon's own API credentials (default: the world's kubeconfig).
    kubeconfig: Path | None = None
    #: More daemon config keys (e.g. Multus keys that then apply to every request).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def user_conf(self) -> Path:
        """``multusConfigFile`` (non-auto mode): the world's Multus config, copied by the
        daemon into its ``cniConfigDir``."""
        return self.root / "70-multus.conf"

    def config(self) -> dict[str, Any]:
        """The daemon config file: server keys plus the world's Multus keys (THK-10)."""
        w = self.world
        return {
            "socketDir": str(self.socket_dir),
            "kubeconfig": str(self.kubeconfig or w.kubeconfig),
            "multusConfigFile": str(self.user_conf),
            "cniConfigDir": str(self.root / "net.d"),
            "cniDir": str(w.dirs.cni),
            "confDir": str(w.conf_dir),
            "binDir": thinlab.CNI_BIN_DIR,
            "logFile": str(self.log),
            "logLevel": "verbose",
            "metricsPort": self.metrics_port,
            "shutdownDelaySeconds": 0,
            **self.extra,
        }

    def start(self) -> None:
        (self.root / "net.d").mkdir(parents=True, exist_ok=True)
        self.user_conf.write_text(json.dumps(self.world.conf))
        path = self.root / "daemon-config.json"
        path.write_text(json.dumps(self.config()))
        env = {**os.environ, "MULTUS_NODE_NAME": thinlab.NODE_NAME}
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.world.node.name, str(MULTUSCTL), "daemon",
             "--config", str(path)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        problem = wait_serving(self.proc, self.socket_dir / "multus.sock")
        assert not problem, f"{problem}: {self.tail()}"

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

    def metrics_text(self) -> str:
        return self.world.node.exec(
            [sys.executable, "-c",
             f"import urllib.request;print(urllib.request.urlopen("
             f"'http://127.0.0.1:{self.metrics_port}/metrics',timeout=10).read().decode())"],
        ).stdout.decode()

    def metric(self, name: str, labels: str = "") -> float:
        """The first sample of ``name`` (with exactly ``labels``, e.g. ``cache="pods"``)."""
        want = f"{name}{{{labels}}} " if labels else None
        for line in self.metrics_text().splitlines():
            if want is not None:
                if line.startswith(want):
                    return float(line.rsplit(" ", 1)[1])
            elif line.startswith((name + " ", name + "{")):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"metric {name}{{{labels}}} not found")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no daemon log)"


@dataclass
class ThickWorld(ThinWorld):
    """A :class:`ThinWorld` whose plugin is ``multus-shim`` talking to a daemon in the node.

    ``add``/``delete`` take the same Multus configs as the thin world's and send them as
    the shim's config (``type: multus-shim`` + ``daemonSocketDir``); the daemon overrides
    them with its own config's keys. ``thin_bin`` is the thin ``multus``, for comparisons
    of the two modes in one world.
    """

    thin_bin: Path | None = None
    metrics_port: int = 0
    daemon: ThickDaemon = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.daemon = ThickDaemon(self, self.dirs.root / "thick", self.metrics_port or free_port())

    # ---------------------------------------------------------------- configs

    def shim_conf(self, conf: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        """A Multus config as the runtime hands it to the shim on a thick node."""
        out = dict(conf if conf is not None else self.conf)
        out["type"] = "multus-shim"
        out["daemonSocketDir"] = str(self.daemon.socket_dir)
        out.update(extra)
        return out

    def effective_conf(self, conf: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What the daemon's core parses for a request with ``conf`` (THK-10: daemon wins;
        the daemon runs in non-auto mode, so even ``readinessindicatorfile`` is copied)."""
        return {**self.shim_conf(conf), **self.daemon.config()}

    def error_prefix(self, command: str) -> str:
        return f"{SHIM_PREFIX[command]} (shim): "

    def log_tail(self, lines: int = 40) -> str:
        return (
            f"shim log:\n{super().log_tail(lines)}\n"
            f"daemon log:\n{self.daemon.tail(lines)}"
        )

    # ---------------------------------------------------------------- the plugin

    def add(
        self, pod: Pod, conf: Mapping[str, Any] | None = None, ifname: str = "eth0"
    ) -> nslab.CniRun:
        return super().add(pod, self.shim_conf(conf), ifname)

    def delete(
        self, pod: Pod, conf: Mapping[str, Any] | None = None, ifname: str = "eth0"
    ) -> nslab.CniRun:
        return super().delete(pod, self.shim_conf(conf), ifname)

    def thin_run(
        self, command: str, pod: Pod, conf: Mapping[str, Any] | None = None, ifname: str = "eth0"
    ) -> nslab.CniRun:
        """The thin ``multus`` on the same node, with the same config and tmp tree."""
        assert self.thin_bin is not None, "ThickWorld(thin_bin=…) not given"
        return self.run(
            command, dict(conf if conf is not None else self.conf), pod.container_id,
            pod.netns, ifname, args=pod.cni_args, plugin=self.thin_bin,
        )

    def explain(
        self, pod: Pod, conf: Mapping[str, Any] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return super().explain(pod, self.effective_conf(conf))

    def cut_api(self) -> dict[str, Any]:
        """The API server becomes unreachable from the node: the forwarder (the daemon's
        only way to it) is closed, with its open connections. The request config also
        names a dead kubeconfig, as in the thin world, which the daemon ignores (THK-11)."""
        self.forwarder.close()
        return self.multus_conf(kubeconfig=str(thinlab.dead_kubeconfig(self)))

    def teardown(self) -> list[str]:
        errors = []
        if self.daemon.proc is not None:
            code = -1
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.daemon.stop()
            if code != 0:
                errors.append(f"daemon exited {code} on SIGTERM:\n{self.daemon.tail()}")
                self.daemon.kill()
        try:
            log = self.daemon.log.read_text(errors="replace")
        except OSError:
            log = ""
        # the daemon answers any unexpected exception with "internal error" and carries on:
        # in a test that is a bug whatever the scenario expected
        errors.extend(
            f"daemon log has {marker!r}:\n{self.daemon.tail(60)}"
            for marker in ("internal error", "Traceback (most recent call last)")
            if marker in log
        )
        return errors + super().teardown()
