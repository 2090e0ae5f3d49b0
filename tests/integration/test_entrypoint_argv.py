"""`multusctl entrypoint` as a real process, driven with upstream-style argv.

Upstream DaemonSets pass every flag as `--flag=value`, booleans as `--flag=true|false`.
These tests start the entrypoint with upstream's own `createMultusConfig()` test inputs
(cmd/thin_entrypoint/main_test.go, kept in tests/golden/generate/upstream-*) given as such
flags, and compare the file on disk byte for byte with upstream's expected text. Along the
way they check the effects no generator test can see: directories created, where the
kubeconfig goes, the environment inputs, binary copy, rename, sleep vs watch, cleanup.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LAUNCHER = HERE / "_entrypoint_main.py"
GOLDEN = REPO / "tests" / "golden" / "generate"


class Entrypoint:
    """A running entrypoint process whose stdout lines are collected by a thread."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, fragment: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(fragment in line for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line with {fragment!r} within {timeout} s: {self.lines}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                pytest.fail(f"entrypoint exited before {fragment!r}: {self.lines}\n{err}")
            self.lines.append(line)

    def terminate(self) -> str:
        """SIGTERM, wait for exit; returns stderr. Fails on a non-zero status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            _out, err = self.proc.communicate(timeout=15)
        finally:
            self.proc.kill()
        self._reader.join(timeout=5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        assert self.proc.returncode == 0, err
        return err


@pytest.fixture
def node(tmp_path: Path) -> Path:
    """A temp host root: conf dir, bin dir, autoconfig dir, service account, plugin binary."""
    for sub in ("net.d", "bin", "auto", "sa", "src"):
        (tmp_path / sub).mkdir()
    (tmp_path / "src" / "multus").write_bytes(b"#!/bin/sh\nexit 0\n")
    (tmp_path / "src" / "multus").chmod(0o755)
    (tmp_path / "sa" / "token").write_text("token-1")
    (tmp_path / "sa" / "ca.crt").write_text("CA-1")
    return tmp_path


def start(node: Path, *flags: str, **env: str) -> Entrypoint:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    environment.pop("SKIP_TLS_VERIFY", None)
    environment.update(
        KUBERNETES_SERVICE_HOST="10.96.0.1",
        KUBERNETES_SERVICE_PORT="443",
        PYTHONPATH=str(REPO),
        **env,
    )
    argv = [
        sys.executable,
        str(LAUNCHER),
        "entrypoint",
        f"--cni-conf-dir={node / 'net.d'}",
        f"--cni-bin-dir={node / 'bin'}",
        f"--multus-autoconfig-dir={node / 'auto'}",
        f"--service-account-dir={node / 'sa'}",
        *flags,
    ]
    return Entrypoint(argv, environment)


def upstream_case(case: str, node: Path) -> tuple[Path, str, str]:
    """Copy an upstream golden master into the autoconfig dir under upstream's file name;
    return (master path, expected output file name, expected text)."""
    directory = GOLDEN / case
    (source,) = directory.glob("master.*")
    master = node / "auto" / f"10-testcni{source.suffix}"
    master.write_bytes(source.read_bytes())
    (expected,) = directory.glob("expected.*")
    return master, "00-multus" + expected.suffix, expected.read_text()


@pytest.mark.parametrize("case", ["upstream-options-conf", "upstream-options-conflist"])
def test_upstream_options_given_as_flags(node: Path, case: str) -> None:
    """Upstream's "with options" cases; every string flag in `--flag=value` form, booleans
    as `=true`; plus sleep mode, cleanup and the kubeconfig environment."""
    master, name, expected = upstream_case(case, node)
    master_bytes = master.read_bytes()
    # upstream's MultusCNIConfDir is /tmp/multus/net.d; the entrypoint creates that
    # directory, so it is moved into the temp root (the only difference from upstream)
    multus_net_d = node / "host-multus" / "net.d"
    expected = expected.replace('"/tmp/multus/net.d"', json.dumps(str(multus_net_d)))
    proc = start(
        node,
        f"--multus-bin-file={node / 'src' / 'multus'}",
        "--multus-conf-file=auto",
        "--multus-kubeconfig-file-host=/etc/foobar_kubeconfig",
        "--namespace-isolation=true",
        "--global-namespaces=foobar,barfoo",
        "--multus-log-to-stderr=true",
        "--multus-log-level=DEBUG",
        "--multus-log-file=/tmp/foobar.log",
        "--additional-bin-dir=/tmp/add_bin_dir",
        f"--multus-cni-conf-dir={multus_net_d}",
        "--readiness-indicator-file=/var/lib/foobar_indicator",
        "--skip-config-watch=true",
        "--cleanup-config-on-exit=true",
        KUBERNETES_SERVICE_PROTOCOL="http",
        KUBECONFIG_MODE="640",
    )
    proc.wait_for_line("Entering sleep (success)...")
    netd = node / "net.d"
    assert (netd / name).read_text() == expected
    assert (netd / name).stat().st_mode & 0o777 == 0o600
    assert multus_net_d.is_dir()
    assert (node / "bin" / "multus").read_bytes() == (node / "src" / "multus").read_bytes()
    kubeconfig = netd / "multus.d" / "multus.kubeconfig"
    doc = yaml.safe_load(kubeconfig.read_text())
    assert doc["clusters"][0]["cluster"]["server"] == "http://10.96.0.1:443"
    assert doc["users"][0]["user"]["token"] == "token-1"  # noqa: S105 - test data
    assert kubeconfig.stat().st_mode & 0o777 == 0o640
    proc.terminate()
    assert not any("Entering watch loop" in line for line in proc.lines)
    assert not (netd / name).exists()  # --cleanup-config-on-exit=true
    assert master.read_bytes() == master_bytes  # no --rename-conf-file: left alone


@pytest.mark.parametrize("case", ["upstream-default-conf", "upstream-default-conflist"])
def test_upstream_defaults_with_false_forms(node: Path, case: str) -> None:
    """Upstream's "default" cases (Go zero values: logToStderr false, no cniConf) with the
    boolean flags given as `=false`, plus `=true` for rename, skip-copy and skip-tls."""
    master, name, expected = upstream_case(case, node)
    master_bytes = master.read_bytes()
    (node / "sa" / "ca.crt").unlink()  # --skip-tls-verify=true does not need it
    proc = start(
        node,
        f"--multus-bin-file={node / 'src' / 'not-there'}",
        "--skip-multus-binary-copy=true",
        "--skip-tls-verify=true",
        "--multus-kubeconfig-file-host=/etc/foobar_kubeconfig",
        "--multus-log-to-stderr=false",
        "--multus-cni-conf-dir=",
        "--namespace-isolation=false",
        "--override-network-name=false",
        "--force-cni-version=false",
        "--skip-config-watch=false",
        "--cleanup-config-on-exit=false",
        "--rename-conf-file=true",
    )
    proc.wait_for_line("Entering watch loop...")
    netd = node / "net.d"
    assert (netd / name).read_text() == expected
    assert not master.exists()
    assert master.with_name(master.name + ".old").read_bytes() == master_bytes
    assert not (node / "bin" / "multus").exists()
    kubeconfig_text = (netd / "multus.d" / "multus.kubeconfig").read_text()
    assert "insecure-skip-tls-verify: true" in kubeconfig_text
    assert "certificate-authority" not in kubeconfig_text
    proc.terminate()
    assert any("Entrypoint skipped copying Multus binary." in line for line in proc.lines)
    assert (netd / name).read_text() == expected  # --cleanup-config-on-exit=false keeps it
