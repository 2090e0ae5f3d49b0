"""Every manifest in deployments/ is accepted by the real kube-apiserver.

``kubectl apply --dry-run=server`` runs admission and schema validation (the DaemonSet,
ConfigMap, CRD and RBAC objects, including field names kubectl's client side would not
catch) without persisting anything. The static checks (args are real ``multusctl``
options, image tags) are in tests/test_manifests.py.
"""

from __future__ import annotations

from pathlib import Path

import controlplane
import pytest
import yaml

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO / "deployments").glob("*.yml"))


def _objects(path: Path) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of every document."""
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        if isinstance(doc, dict):
            meta = doc.get("metadata", {})
            out.append((str(doc["kind"]), str(meta.get("namespace", "")), str(meta["name"])))
    return out


def test_there_are_manifests() -> None:
    assert any(p.name == "multus-daemonset.yml" for p in MANIFESTS)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_server_side_dry_run_accepts_every_object(
    control_plane: controlplane.ControlPlane, manifest: Path
) -> None:
    objects = _objects(manifest)
    proc = control_plane.kubectl("apply", "--dry-run=server", "-f", str(manifest), check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(objects), proc.stdout
    assert all(line.endswith("(server dry run)") for line in lines), proc.stdout
    # a dry run persists nothing: the workloads are not there afterwards
    for kind, namespace, name in objects:
        if kind not in ("DaemonSet", "ConfigMap"):
            continue
        ns_args = ["-n", namespace] if namespace else []
        got = control_plane.kubectl("get", kind.lower(), name, *ns_args, "--ignore-not-found",
                                    "-o", "name")
        assert got.stdout.strip() == "", f"{kind} {name} was created by a dry run"
