"""Effects of entrypoint flags that test_node_installer.py does not pin down.

Each test sets one flag through ``EntrypointOptions`` / ``GenerateOptions`` on a temp host
root and checks what ends up on disk. The CLI → options mapping of every flag (all syntax
forms, including ``--flag=true|false``) is in tests/unit/cli/test_node_commands.py; the real
argv end to end is in tests/integration/test_entrypoint_argv.py.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from multusctl.config.generate import GenerateOptions
from multusctl.errors import TryAgainLater
from multusctl.installer import entrypoint as ep
from multusctl.installer.entrypoint import EntrypointOptions, KubeAccess, NodeInstaller, RunContext

FLANNEL = b'{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel"}]}'
CALICO = b'{"name":"k8s-pod-network","cniVersion":"0.3.1","plugins":[{"type":"calico"}]}'


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("WARN " + message)

    def error(self, message: str) -> None:
        self.lines.append("ERROR " + message)

    def waiting(self, message: str, elapsed: float, timeout: float) -> None:
        return None


class FakeTime:
    """Clock and waiter in one: each wait advances the clock by its timeout and runs the
    action scheduled for that wait (1-based)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.now = 0.0
        self.waits = 0
        self.actions: dict[int, Callable[[], object]] = {}

    def clock(self) -> float:
        return self.now

    def wait(self, timeout: float) -> bool:
        self.waits += 1
        self.now += timeout
        action = self.actions.pop(self.waits, None)
        if action is not None:
            action()
        return False

    def wake(self, reason: str = "") -> None:
        return None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for sub in ("net.d", "bin", "sa", "src"):
        (tmp_path / sub).mkdir()
    (tmp_path / "src" / "multus").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "sa" / "token").write_text("token-1")
    (tmp_path / "sa" / "ca.crt").write_text("CA-1")
    return tmp_path


def options(
    root: Path, gen: GenerateOptions | None = None, **overrides: object
) -> EntrypointOptions:
    base = EntrypointOptions(
        cni_bin_dir=str(root / "bin"),
        cni_conf_dir=str(root / "net.d"),
        multus_autoconfig_dir=str(root / "net.d"),
        multus_bin_file=str(root / "src" / "multus"),
        generate=gen or GenerateOptions(multus_cni_conf_dir=""),
        kube=KubeAccess(
            service_host="10.96.0.1", service_port="443", service_account_dir=str(root / "sa")
        ),
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def run(opts: EntrypointOptions, fake: FakeTime) -> Recorder:
    rec = Recorder()
    ep.run(
        opts,
        rec,
        RunContext(stop=fake.stop, waiter=fake, clock=fake.clock, use_inotify=False),
    )
    return rec


def load(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


# --- --multus-cni-conf-dir ---------------------------------------------------------------------


def test_multus_cni_conf_dir_is_created_and_written_as_cniconf(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    target = root / "host" / "etc" / "cni" / "multus" / "net.d"
    assert not target.parent.exists()
    NodeInstaller(
        options(root, GenerateOptions(multus_cni_conf_dir=str(target))), Recorder()
    ).reconcile()
    assert target.is_dir()
    assert load(root / "net.d" / "00-multus.conf")["cniConf"] == str(target)


def test_multus_cni_conf_dir_is_created_even_when_the_kubeconfig_is_current(root: Path) -> None:
    """A restarted pod finds its kubeconfig unchanged; the directory is created anyway."""
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    NodeInstaller(options(root), Recorder()).reconcile()  # kubeconfig written, no cniConf
    target = root / "multus" / "net.d"
    rec = Recorder()
    NodeInstaller(options(root, GenerateOptions(multus_cni_conf_dir=str(target))), rec).reconcile()
    assert any("is up to date" in line for line in rec.lines)
    assert target.is_dir()


def test_empty_multus_cni_conf_dir_creates_nothing_and_omits_cniconf(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    before = sorted(p.name for p in root.iterdir())
    NodeInstaller(options(root), Recorder()).reconcile()
    assert sorted(p.name for p in root.iterdir()) == before
    assert "cniConf" not in load(root / "net.d" / "00-multus.conf")


# --- --multus-kubeconfig-file-host ---------------------------------------------------------------


def test_kubeconfig_file_host_is_written_into_the_config_not_used_as_location(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    host_view = root / "hostview" / "multus.kubeconfig"
    NodeInstaller(options(root, GenerateOptions(kubeconfig=str(host_view))), Recorder()).reconcile()
    assert load(root / "net.d" / "00-multus.conf")["kubeconfig"] == str(host_view)
    assert (root / "net.d" / "multus.d" / "multus.kubeconfig").is_file()
    assert not host_view.parent.exists()


def test_empty_kubeconfig_file_host_omits_the_key(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    NodeInstaller(options(root, GenerateOptions(kubeconfig="")), Recorder()).reconcile()
    assert "kubeconfig" not in load(root / "net.d" / "00-multus.conf")
    assert (root / "net.d" / "multus.d" / "multus.kubeconfig").is_file()


# --- --cni-version --------------------------------------------------------------------------------


def test_cni_version_equal_to_the_masters_is_accepted(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    fake = FakeTime()
    fake.actions[1] = fake.stop.set
    run(options(root, GenerateOptions(cni_version="0.3.1")), fake)
    doc = load(root / "net.d" / "00-multus.conf")
    assert doc["cniVersion"] == "0.3.1"
    assert (root / "net.d" / "00-multus.conf").stat().st_mode & 0o777 == 0o600


def test_forced_cni_version_decides_the_output_file(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    gen = GenerateOptions(cni_version="1.0.0", force_cni_version=True)
    NodeInstaller(options(root, gen), Recorder()).reconcile()
    doc = load(root / "net.d" / "00-multus.conflist")
    assert doc["cniVersion"] == "1.0.0"
    plugins = doc["plugins"]
    assert isinstance(plugins, list)
    assert plugins[0]["delegates"][0]["cniVersion"] == "1.0.0"
    assert not (root / "net.d" / "00-multus.conf").exists()
    assert (root / "net.d" / "10-flannel.conflist").read_bytes() == FLANNEL  # master untouched


# --- --cleanup-config-on-exit -------------------------------------------------------------------


def test_cleanup_removes_a_conflist_output_too(root: Path) -> None:
    (root / "net.d" / "10-ptp.conflist").write_bytes(
        b'{"cniVersion":"1.0.0","name":"p","plugins":[{"type":"ptp"}]}'
    )
    fake = FakeTime()
    written: list[bool] = []

    def check_then_stop() -> None:
        written.append((root / "net.d" / "00-multus.conflist").is_file())
        fake.stop.set()

    fake.actions[1] = check_then_stop
    rec = run(options(root, cleanup_config_on_exit=True), fake)
    assert written == [True]
    assert sorted(p.name for p in (root / "net.d").iterdir()) == ["10-ptp.conflist", "multus.d"]
    assert f"Removed {root / 'net.d' / '00-multus.conflist'}" in rec.lines


# --- --multus-master-cni-file-name ----------------------------------------------------------------


def test_explicit_master_is_waited_for_and_other_candidates_are_ignored(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    fake = FakeTime()
    fake.actions[3] = lambda: (root / "net.d" / "20-calico.conflist").write_bytes(CALICO)
    fake.actions[4] = fake.stop.set
    run(options(root, multus_master_cni_file_name="20-calico.conflist"), fake)
    delegates = load(root / "net.d" / "00-multus.conf")["delegates"]
    assert isinstance(delegates, list)
    assert delegates[0]["name"] == "k8s-pod-network"


def test_explicit_master_that_never_appears_times_out(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    opts = options(root, multus_master_cni_file_name="20-calico.conflist", master_wait_seconds=3.0)
    with pytest.raises(TryAgainLater, match="no master plugin was found"):
        run(opts, FakeTime())
    assert not (root / "net.d" / "00-multus.conf").exists()


# --- --skip-tls-verify ---------------------------------------------------------------------------


def test_skip_tls_verify_ignores_the_ca(root: Path) -> None:
    opts = options(root)
    opts = dataclasses.replace(opts, kube=dataclasses.replace(opts.kube, skip_tls_verify=True))
    installer = NodeInstaller(opts, Recorder())
    assert installer.sync_kubeconfig()
    text = (root / "net.d" / "multus.d" / "multus.kubeconfig").read_text()
    assert "insecure-skip-tls-verify: true" in text
    assert "certificate-authority" not in text
    (root / "sa" / "ca.crt").write_text("CA-2")  # a CA rotation is no reason to rewrite
    assert not installer.sync_kubeconfig()
    (root / "sa" / "ca.crt").unlink()  # nor is a missing CA an error
    assert not installer.sync_kubeconfig()
    (root / "sa" / "token").write_text("token-2")
    assert installer.sync_kubeconfig()
