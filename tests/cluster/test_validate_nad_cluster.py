"""`multusctl validate-nad --from-cluster` against the real kube-apiserver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import controlplane
import kubeobjects
import pytest
from kubernetes import client

pytestmark = pytest.mark.cluster

_SCRIPT = Path(sys.executable).parent / "multusctl"
MULTUSCTL = (
    [str(_SCRIPT)] if _SCRIPT.exists()
    else [sys.executable, "-c", "from multusctl.cli.app import main; main()"]
)

GOOD = json.dumps({
    "cniVersion": "1.0.0", "type": "macvlan", "master": "eth1", "mode": "bridge",
    "ipam": {"type": "host-local", "subnet": "10.77.0.0/24"},
})
OVERLAPPING = json.dumps({
    "cniVersion": "1.0.0", "type": "ipvlan", "master": "eth1",
    "ipam": {"type": "whereabouts", "range": "10.77.0.128/25"},
})
BROKEN_JSON = '{"cniVersion": "1.0.0", "type": "macvlan", "master": "eth1",}'


def run(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return subprocess.run(
        [*MULTUSCTL, "validate-nad", "--from-cluster", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )


def results(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {r["source"]: r for r in json.loads(proc.stdout)["results"]}


@pytest.fixture
def nads(admin_api: client.ApiClient, namespace: str) -> str:
    kubeobjects.create_nad(admin_api, namespace, "good", GOOD)
    kubeobjects.create_nad(admin_api, namespace, "overlapping", OVERLAPPING)
    kubeobjects.create_nad(admin_api, namespace, "broken", BROKEN_JSON,
                           annotations={"k8s.v1.cni.cncf.io/resourceName": "bad_domain/x"})
    kubeobjects.create_nad(admin_api, namespace, "from-disk")
    return namespace


def test_from_cluster_validates_the_namespace(admin_kubeconfig: Path, nads: str) -> None:
    proc = run(admin_kubeconfig, "-n", nads, "-o", "json")
    assert proc.returncode == 1, proc.stderr
    got = results(proc)
    assert sorted(got) == sorted(f"{nads}/{n}" for n in ("good", "overlapping", "broken",
                                                         "from-disk"))
    for r in got.values():
        assert r["namespace"] == nads
    assert got[f"{nads}/good"]["valid"] is True
    assert got[f"{nads}/from-disk"]["valid"] is True
    assert got[f"{nads}/from-disk"]["warnings"][0]["path"] == "spec.config"
    broken = got[f"{nads}/broken"]
    assert broken["valid"] is False
    assert [e["path"] for e in broken["errors"]] == [
        'metadata.annotations["k8s.v1.cni.cncf.io/resourceName"]', "spec.config"]
    assert "not valid JSON" in broken["errors"][1]["message"]
    overlap = [w for r in got.values() for w in r["warnings"] if "overlaps" in w["message"]]
    assert len(overlap) == 1
    assert f"{nads}/" in overlap[0]["message"]


def test_all_namespaces_and_text_output(admin_kubeconfig: Path, nads: str) -> None:
    proc = run(admin_kubeconfig, "-A", "-o", "json")
    assert proc.returncode == 1, proc.stderr
    assert {f"{nads}/good", f"{nads}/broken"} <= set(results(proc))
    text = run(admin_kubeconfig, "-n", nads)
    assert text.returncode == 1
    assert f"{nads}/broken" in text.stdout
    # The table wraps long findings at the terminal width (80 columns when piped).
    assert "config is not valid JSON" in " ".join(text.stdout.split())
    assert "4 object(s): 3 passed, 1 failed" in text.stdout


def test_namespace_defaults_to_the_kubeconfig_context(
    admin_kubeconfig: Path, nads: str, tmp_path: Path
) -> None:
    cfg = json.loads(admin_kubeconfig.read_text())
    for ctx in cfg["contexts"]:
        ctx["context"]["namespace"] = nads
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps(cfg))
    proc = run(kubeconfig, "-o", "json")
    assert proc.returncode == 1, proc.stderr
    assert f"{nads}/good" in results(proc)


def test_files_and_cluster_together(admin_kubeconfig: Path, nads: str, tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text(json.dumps({
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "local"}, "spec": {"config": GOOD},
    }))
    proc = run(admin_kubeconfig, "-n", nads, "-o", "json", str(local))
    got = results(proc)
    assert f"{tmp_path}/local.yaml:1" in got
    # the same subnet in a file and in the cluster is reported across both
    local_warnings = got[f"{tmp_path}/local.yaml:1"]["warnings"]
    good_warnings = got[f"{nads}/good"]["warnings"]
    assert any("overlaps" in w["message"] for w in local_warnings + good_warnings)


def test_forbidden_identity_exit_2(
    control_plane: controlplane.ControlPlane, nads: str
) -> None:
    kubeconfig = control_plane.service_account_kubeconfig(nads, "default")
    proc = run(kubeconfig, "-n", nads)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"error: not allowed to list network-attachment-definitions in namespace {nads}")
    assert "Traceback" not in proc.stderr
