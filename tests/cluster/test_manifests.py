"""Our deployment manifests against the real kube-apiserver."""

from __future__ import annotations

import json

import controlplane
import pytest
from manifests import NAD_CRD, applicable_manifest

pytestmark = pytest.mark.cluster


def test_kubectl_apply_creates_crd_service_account_and_rbac(applied_manifests: str) -> None:
    lines = set(applied_manifests.splitlines())
    assert lines == {
        f"customresourcedefinition.apiextensions.k8s.io/{NAD_CRD} created",
        "serviceaccount/multus created",
        "clusterrole.rbac.authorization.k8s.io/multus created",
        "clusterrolebinding.rbac.authorization.k8s.io/multus created",
    }


def test_kubectl_apply_again_changes_nothing(
    control_plane: controlplane.ControlPlane, applied_manifests: str
) -> None:
    path = applicable_manifest(control_plane.workdir)
    out = control_plane.kubectl("apply", "-f", str(path)).stdout
    lines = out.splitlines()
    assert len(lines) == 4
    assert all(line.endswith(" unchanged") for line in lines)


def test_crd_is_served_as_specified(
    control_plane: controlplane.ControlPlane, applied_manifests: str
) -> None:
    crd = json.loads(control_plane.kubectl("get", "crd", NAD_CRD, "-o", "json").stdout)
    spec = crd["spec"]
    assert spec["group"] == "k8s.cni.cncf.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "plural": "network-attachment-definitions",
        "singular": "network-attachment-definition",
        "kind": "NetworkAttachmentDefinition",
        "listKind": "NetworkAttachmentDefinitionList",
        "shortNames": ["net-attach-def", "nad"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert "subresources" not in version
    schema = version["schema"]["openAPIV3Schema"]
    assert "required" not in schema
    assert schema["properties"]["spec"]["properties"] == {
        "config": {
            "description": "NetworkAttachmentDefinition config is a JSON-formatted CNI "
            "configuration",
            "type": "string",
        }
    }
    established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert established["Established"] == "True"


@pytest.mark.parametrize("name", ["nad", "net-attach-def", "network-attachment-definitions"])
def test_short_names_resolve(
    control_plane: controlplane.ControlPlane, namespace: str, name: str
) -> None:
    proc = control_plane.kubectl("get", name, "-n", namespace, "-o", "json")
    assert json.loads(proc.stdout)["items"] == []
