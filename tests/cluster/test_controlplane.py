"""The ControlPlane helper itself: start, readiness, clean stop, clean failure."""

from __future__ import annotations

import os
import ssl
import stat
import urllib.request
from pathlib import Path

import controlplane
import pytest

pytestmark = pytest.mark.cluster


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_session_control_plane_is_ready_and_serves_tls_for_loopback(
    control_plane: controlplane.ControlPlane,
) -> None:
    ctx = ssl.create_default_context(cafile=str(control_plane.ca_file))
    pki = control_plane.workdir / "pki"
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    assert control_plane.server.startswith("https://127.0.0.1:")
    with urllib.request.urlopen(control_plane.server + "/readyz", context=ctx) as r:
        assert r.read() == b"ok"
    # RBAC is on: an anonymous/unauthorised identity is not everybody's admin
    proc = control_plane.kubectl(
        "auth", "can-i", "get", "secrets", "--as=system:serviceaccount:default:nobody", check=False
    )
    assert (proc.stdout.strip(), proc.returncode) == ("no", 1)
    assert stat.S_IMODE(control_plane.admin_kubeconfig.stat().st_mode) == 0o600


def test_a_second_control_plane_stops_without_leftovers(
    cluster_binaries: controlplane.Binaries, tmp_path: Path
) -> None:
    cp = controlplane.ControlPlane(cluster_binaries, tmp_parent=tmp_path)
    with cp:
        workdir = cp.workdir
        pids = [p.pid for _, p in cp._procs]
        assert len(pids) == 2
        assert all(pid_alive(p) for p in pids)
        assert cp.kubectl("get", "namespace", "kube-system", "-o", "name").stdout.strip() == (
            "namespace/kube-system"
        )
    assert not workdir.exists()
    assert not any(pid_alive(p) for p in pids)
    assert controlplane.leftovers(tmp_path) == []
    cp.stop()  # idempotent


def test_failed_start_reports_the_log_and_cleans_up(
    cluster_binaries: controlplane.Binaries, tmp_path: Path
) -> None:
    broken = tmp_path / "etcd"
    broken.write_text("#!/bin/sh\necho 'etcd: cannot start for this test' >&2\nexit 3\n")
    broken.chmod(0o755)
    bins = controlplane.Binaries(cluster_binaries.kube_apiserver, broken, cluster_binaries.cnitool)
    parent = tmp_path / "runs"
    parent.mkdir()
    with pytest.raises(controlplane.ControlPlaneError) as exc:
        controlplane.ControlPlane(bins, tmp_parent=parent).start()
    assert "etcd exited with status 3" in str(exc.value)
    assert "etcd: cannot start for this test" in str(exc.value)
    assert controlplane.leftovers(parent) == []


def test_missing_binaries_name_the_build_script(tmp_path: Path) -> None:
    with pytest.raises(controlplane.BinariesMissingError) as exc:
        controlplane.find_binaries(tmp_path)
    assert "tests/cluster/build.sh" in str(exc.value)
    assert "kube-apiserver, etcd, cnitool" in str(exc.value)


def test_cnitool_is_the_libcni_client(cnitool_path: Path) -> None:
    assert os.access(cnitool_path, os.X_OK)
    import subprocess

    proc = subprocess.run([str(cnitool_path)], capture_output=True, text=True, check=False)
    assert "cnitool: Add, check, remove" in proc.stdout + proc.stderr
