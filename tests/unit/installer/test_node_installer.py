"""The entrypoint's decisions, driven with a fake clock and waiter (no sleeps, no inotify)."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from multusctl import fsutil
from multusctl.config.generate import GenerateOptions
from multusctl.errors import IncompatibleVersion, IOFailure, TryAgainLater
from multusctl.installer import entrypoint as ep
from multusctl.installer.entrypoint import EntrypointOptions, KubeAccess, NodeInstaller, RunContext

FLANNEL = b'{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel"}]}'
CALICO = b'{"name":"k8s-pod-network","cniVersion":"0.3.1","plugins":[{"type":"calico"}]}'


class Recorder:
    """A Reporter that keeps every line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("WARN " + message)

    def error(self, message: str) -> None:
        self.lines.append("ERROR " + message)

    def waiting(self, message: str, elapsed: float, timeout: float) -> None:
        self.lines.append(f"WAIT {int(elapsed)}/{int(timeout)}")

    def has(self, fragment: str) -> int:
        return sum(fragment in line for line in self.lines)


class FakeTime:
    """A clock plus a waiter: every wait advances the clock and runs scripted actions."""

    def __init__(self, stop: threading.Event) -> None:
        self.now = 0.0
        self.waits = 0
        self.stop = stop
        self.actions: dict[int, Callable[[], None]] = {}

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
    for sub in ("net.d", "bin", "sa", "src", "multus-net.d"):
        (tmp_path / sub).mkdir()
    (tmp_path / "src" / "multus").write_bytes(b"#!/bin/sh\necho multus\n")
    (tmp_path / "src" / "multus").chmod(0o755)
    (tmp_path / "sa" / "token").write_text("token-1")
    (tmp_path / "sa" / "ca.crt").write_text("CA-1")
    return tmp_path


def options(root: Path, **overrides: object) -> EntrypointOptions:
    gen = GenerateOptions(multus_cni_conf_dir=str(root / "multus-net.d"))
    base = EntrypointOptions(
        cni_bin_dir=str(root / "bin"),
        cni_conf_dir=str(root / "net.d"),
        multus_autoconfig_dir=str(root / "net.d"),
        multus_bin_file=str(root / "src" / "multus"),
        generate=gen,
        kube=KubeAccess(
            service_host="10.96.0.1",
            service_port="443",
            service_account_dir=str(root / "sa"),
        ),
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def conf(root: Path, name: str = "00-multus.conf") -> dict[str, object]:
    loaded: dict[str, object] = json.loads((root / "net.d" / name).read_text())
    return loaded


def delegate_name(root: Path, name: str = "00-multus.conf") -> str:
    delegates = conf(root, name)["delegates"]
    assert isinstance(delegates, list)
    return str(delegates[0]["name"])


class WriteCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = fsutil.atomic_write

        def counting(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o600) -> None:
            self.paths.append(os.fspath(path))
            real(path, data, mode)

        monkeypatch.setattr(fsutil, "atomic_write", counting)


# --- start-up ------------------------------------------------------------------------------


def test_verify_paths_uses_upstream_messages(root: Path) -> None:
    rec = Recorder()
    for flag, override in [
        ("cni-conf-dir", {"cni_conf_dir": str(root / "nope")}),
        ("cni-bin-dir", {"cni_bin_dir": str(root / "nope")}),
        ("multus-bin-file", {"multus_bin_file": str(root / "nope")}),
        ("multus-conf-file", {"multus_conf_file": str(root / "nope.conf")}),
    ]:
        with pytest.raises(IOFailure, match=f"^{flag} is not found: "):
            NodeInstaller(options(root, **override), rec).verify_paths()


def test_skip_binary_copy_skips_the_binary_check_and_copy(root: Path) -> None:
    rec = Recorder()
    installer = NodeInstaller(
        options(root, skip_multus_binary_copy=True, multus_bin_file=str(root / "nope")), rec
    )
    installer.verify_paths()
    installer.install_binary()
    assert not (root / "bin" / "multus").exists()
    assert rec.has("Entrypoint skipped copying Multus binary.")


def test_binary_copy_is_atomic_and_keeps_the_mode(root: Path) -> None:
    (root / "src" / "multus").chmod(0o750)
    (root / "bin" / "multus").write_text("old")
    before = (root / "bin" / "multus").stat().st_ino
    NodeInstaller(options(root), Recorder()).install_binary()
    target = root / "bin" / "multus"
    assert target.read_bytes() == (root / "src" / "multus").read_bytes()
    assert target.stat().st_mode & 0o777 == 0o750
    assert target.stat().st_ino != before  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in (root / "bin").iterdir()) == ["multus"]


def _run(opts: EntrypointOptions, fake: FakeTime, rec: Recorder, **ctx: object) -> None:
    ep.run(
        opts,
        rec,
        RunContext(stop=fake.stop, waiter=fake, clock=fake.clock, use_inotify=False, **ctx),  # type: ignore[arg-type]
    )


def test_waits_for_a_master_then_generates(root: Path) -> None:
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[7] = lambda: (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    fake.actions[9] = stop.set
    rec = Recorder()
    _run(options(root), fake, rec)
    assert delegate_name(root) == "cbr0"
    assert rec.has("Attempting to find master plugin configuration, attempt 5") == 1
    assert rec.has("Using MASTER_PLUGIN: 10-flannel.conflist") == 1
    assert rec.has("Entering watch loop...") == 1


def test_gives_up_after_600_seconds_without_a_master(root: Path) -> None:
    fake = FakeTime(threading.Event())
    with pytest.raises(TryAgainLater, match=r"no master plugin was found"):
        _run(options(root), fake, Recorder())
    assert fake.now == pytest.approx(600.0)
    assert fake.waits == 600


def test_master_wait_is_configurable(root: Path) -> None:
    fake = FakeTime(threading.Event())
    with pytest.raises(TryAgainLater):
        _run(options(root, master_wait_seconds=5.0), fake, Recorder())
    assert fake.waits == 5


def test_a_half_written_master_is_retried(root: Path) -> None:
    stop = threading.Event()
    fake = FakeTime(stop)
    master = root / "net.d" / "10-flannel.conflist"
    master.write_bytes(FLANNEL[:20])
    fake.actions[2] = lambda: master.write_bytes(FLANNEL)
    fake.actions[3] = stop.set
    rec = Recorder()
    _run(options(root), fake, rec)
    assert delegate_name(root) == "cbr0"
    assert rec.has("ERROR cannot read master CNI config file") == 1


def test_a_version_mismatch_is_fatal_at_once(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    opts = options(root, generate=GenerateOptions(cni_version="0.4.0"))
    fake = FakeTime(threading.Event())
    with pytest.raises(IncompatibleVersion, match=r'Multus cni version is "0\.4\.0"'):
        _run(opts, fake, Recorder())
    assert fake.waits == 0


def test_missing_token_is_fatal(root: Path) -> None:
    (root / "sa" / "token").unlink()
    with pytest.raises(
        IOFailure, match=r"failed to create multus kubeconfig: file .*token not found"
    ):
        _run(options(root), FakeTime(threading.Event()), Recorder())


def test_skip_config_watch_sleeps_until_stopped(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = lambda: (root / "net.d" / "10-flannel.conflist").write_bytes(CALICO)
    fake.actions[2] = stop.set
    rec = Recorder()
    _run(options(root, skip_config_watch=True), fake, rec)
    assert rec.has("Entering sleep (success)...") == 1
    assert delegate_name(root) == "cbr0"  # not watched: the change is not followed


def test_watch_loop_follows_changes_without_cleanup_flag(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = lambda: (root / "net.d" / "10-flannel.conflist").write_bytes(CALICO)
    fake.actions[2] = stop.set
    _run(options(root), fake, Recorder())
    assert delegate_name(root) == "k8s-pod-network"
    assert (root / "net.d" / "00-multus.conf").exists()  # no cleanup without the flag


def test_cleanup_on_exit_removes_generated_files_only(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = stop.set
    _run(options(root, cleanup_config_on_exit=True), fake, Recorder())
    assert sorted(p.name for p in (root / "net.d").iterdir()) == ["10-flannel.conflist", "multus.d"]


def test_non_auto_copies_and_follows_the_source(root: Path) -> None:
    source = root / "src" / "70-multus.conf"
    source.write_text('{"cniVersion":"0.3.1","name":"m","type":"multus"}')
    source.chmod(0o644)
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = lambda: source.write_text('{"cniVersion":"0.4.0","name":"m","type":"multus"}')
    fake.actions[2] = stop.set
    rec = Recorder()
    _run(options(root, multus_conf_file=str(source), cleanup_config_on_exit=False), fake, rec)
    target = root / "net.d" / "70-multus.conf"
    assert target.read_text() == source.read_text()
    assert target.stat().st_mode & 0o777 == 0o644
    assert rec.has(f"multus config file {source} is copied.") == 2


def test_non_auto_cleanup_removes_the_copy(root: Path) -> None:
    source = root / "src" / "70-multus.conf"
    source.write_text("{}")
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = stop.set
    _run(options(root, multus_conf_file=str(source), cleanup_config_on_exit=True), fake, Recorder())
    assert not (root / "net.d" / "70-multus.conf").exists()


def test_restart_crio_runs_once(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = lambda: (root / "net.d" / "10-flannel.conflist").write_bytes(CALICO)
    fake.actions[2] = stop.set
    calls: list[list[str]] = []

    def record(argv: list[str]) -> int:
        calls.append(argv)
        return 1

    rec = Recorder()
    _run(options(root, restart_crio=True), fake, rec, run_command=record)
    assert calls == [["systemctl", "restart", "crio"]]
    assert rec.has("Restarting crio") == 1
    assert rec.has("WARN systemctl restart crio failed") == 1


def test_no_crio_restart_by_default(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = stop.set
    calls: list[list[str]] = []
    _run(options(root), fake, Recorder(), run_command=lambda a: calls.append(a) or 0)
    assert calls == []


# --- reconcile -------------------------------------------------------------------------------


def test_reconcile_is_idempotent(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    writes = WriteCounter(monkeypatch)
    installer = NodeInstaller(options(root), Recorder())
    assert installer.reconcile()
    assert len(writes.paths) == 2  # kubeconfig + config
    for _ in range(3):
        assert installer.reconcile()
    assert len(writes.paths) == 2


def test_changed_master_regenerates(root: Path) -> None:
    master = root / "net.d" / "10-flannel.conflist"
    master.write_bytes(FLANNEL)
    rec = Recorder()
    installer = NodeInstaller(options(root), rec)
    installer.reconcile()
    master.write_bytes(CALICO)
    installer.reconcile()
    assert delegate_name(root) == "k8s-pod-network"
    assert rec.has("master config changed - recreating multus config") == 1


def test_removed_master_keeps_config_until_restored(root: Path) -> None:
    master = root / "net.d" / "10-flannel.conflist"
    master.write_bytes(FLANNEL)
    rec = Recorder()
    installer = NodeInstaller(options(root), rec)
    installer.reconcile()
    master.unlink()
    assert installer.reconcile()
    assert installer.reconcile()
    assert delegate_name(root) == "cbr0"
    assert rec.has("has been deleted. waiting for its restoration...") == 1
    master.write_bytes(FLANNEL)
    installer.reconcile()
    assert rec.has("was restored. Regenerating given configuration.") == 1


def test_renamed_master_is_followed(root: Path) -> None:
    master = root / "net.d" / "10-flannel.conflist"
    master.write_bytes(FLANNEL)
    rec = Recorder()
    installer = NodeInstaller(options(root), rec)
    installer.reconcile()
    master.rename(root / "net.d" / "20-flannel.conflist")
    installer.reconcile()
    assert installer.master_name == "20-flannel.conflist"
    assert rec.has('Master plugin changed to "') == 1


def test_switch_to_conflist_removes_stale_conf(root: Path) -> None:
    master = root / "net.d" / "10-flannel.conflist"
    master.write_bytes(FLANNEL)
    installer = NodeInstaller(options(root), Recorder())
    installer.reconcile()
    master.write_bytes(FLANNEL.replace(b"0.3.1", b"1.0.0"))
    installer.reconcile()
    assert not (root / "net.d" / "00-multus.conf").exists()
    assert conf(root, "00-multus.conflist")["cniVersion"] == "1.0.0"


def test_our_config_is_restored_when_deleted(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    installer = NodeInstaller(options(root), Recorder())
    installer.reconcile()
    (root / "net.d" / "00-multus.conf").unlink()
    installer.reconcile()
    assert delegate_name(root) == "cbr0"


def test_explicit_master_name(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    (root / "net.d" / "20-calico.conflist").write_bytes(CALICO)
    installer = NodeInstaller(
        options(root, multus_master_cni_file_name="20-calico.conflist"), Recorder()
    )
    installer.reconcile()
    assert delegate_name(root) == "k8s-pod-network"


def test_autoconfig_dir_can_differ_from_conf_dir(root: Path) -> None:
    (root / "auto").mkdir()
    (root / "auto" / "10-flannel.conflist").write_bytes(FLANNEL)
    installer = NodeInstaller(options(root, multus_autoconfig_dir=str(root / "auto")), Recorder())
    installer.reconcile()
    assert delegate_name(root) == "cbr0"


def test_rename_conf_file_moves_master_and_pins_it(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    (root / "net.d" / "20-calico.conflist").write_bytes(CALICO)
    rec = Recorder()
    installer = NodeInstaller(options(root, rename_conf_file=True), rec)
    installer.reconcile()
    assert (root / "net.d" / "10-flannel.conflist.old").read_bytes() == FLANNEL
    assert rec.has('Original master file moved to "') == 1
    installer.reconcile()  # 20-calico is not picked up and renamed in turn
    assert (root / "net.d" / "20-calico.conflist").exists()
    assert delegate_name(root) == "cbr0"
    assert rec.has("has been deleted") == 0  # our own rename is not a deletion
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL.replace(b"cbr0", b"cbr1"))
    installer.reconcile()
    assert delegate_name(root) == "cbr1"


def test_token_rotation_rewrites_kubeconfig(root: Path) -> None:
    (root / "net.d" / "10-flannel.conflist").write_bytes(FLANNEL)
    rec = Recorder()
    installer = NodeInstaller(options(root), rec)
    installer.reconcile()
    kubeconfig = root / "net.d" / "multus.d" / "multus.kubeconfig"
    assert 'token: "token-1"' in kubeconfig.read_text()
    (root / "sa" / "token").write_text("token-2")
    installer.reconcile()
    assert 'token: "token-2"' in kubeconfig.read_text()
    assert rec.has("CA (false) or SA token (true) changed - recreating kubeconfig") == 1


def test_kubeconfig_mode_and_skip_tls(root: Path) -> None:
    (root / "sa" / "ca.crt").unlink()
    opts = options(root)
    opts = dataclasses.replace(
        opts, kube=dataclasses.replace(opts.kube, skip_tls_verify=True, kubeconfig_mode=0o640)
    )
    NodeInstaller(opts, Recorder()).sync_kubeconfig()
    kubeconfig = root / "net.d" / "multus.d" / "multus.kubeconfig"
    assert "insecure-skip-tls-verify: true" in kubeconfig.read_text()
    assert kubeconfig.stat().st_mode & 0o777 == 0o640


def test_kube_ca_file_env_location(root: Path) -> None:
    (root / "elsewhere.crt").write_text("OTHER-CA")
    opts = options(root)
    opts = dataclasses.replace(
        opts, kube=dataclasses.replace(opts.kube, ca_file=str(root / "elsewhere.crt"))
    )
    NodeInstaller(opts, Recorder()).sync_kubeconfig()
    import base64

    assert (
        base64.b64encode(b"OTHER-CA").decode()
        in (root / "net.d" / "multus.d" / "multus.kubeconfig").read_text()
    )


def test_loop_errors_are_reported_once_and_config_kept(root: Path) -> None:
    master = root / "net.d" / "10-flannel.conflist"
    master.write_bytes(FLANNEL)
    stop = threading.Event()
    fake = FakeTime(stop)
    fake.actions[1] = lambda: master.write_bytes(b'{"name":"x"}')
    fake.actions[4] = stop.set
    rec = Recorder()
    _run(options(root), fake, rec)
    assert rec.has("ERROR cannot get cniVersion") == 1
    assert delegate_name(root) == "cbr0"
