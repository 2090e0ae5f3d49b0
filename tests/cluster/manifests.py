"""The project's own deployment manifests, as the cluster tier applies them.

Used by the fixtures and reusable by ``bench/`` and the demo: :func:`apply` runs
``kubectl apply -f`` on ``deployments/multus-daemonset.yml`` (the file users apply) and waits
for the NetworkAttachmentDefinition CRD to be Established.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from controlplane import ControlPlane

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "deployments" / "multus-daemonset.yml"
#: The kinds applied from MANIFEST.  The DaemonSet/ConfigMap that will follow them are left
#: out: there is no kubelet to run them.
APPLIED_KINDS = frozenset(
    {"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
)
NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"
MULTUS_NAMESPACE = "kube-system"
MULTUS_SERVICE_ACCOUNT = "multus"
MULTUS_USER = f"system:serviceaccount:{MULTUS_NAMESPACE}:{MULTUS_SERVICE_ACCOUNT}"


def applicable_manifest(workdir: Path) -> Path:
    """MANIFEST itself, or a copy in ``workdir`` holding only APPLIED_KINDS when it has more."""
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    kept = [d for d in docs if d.get("kind") in APPLIED_KINDS]
    if len(kept) == len(docs):
        return MANIFEST
    path = workdir / "multus-crd-rbac.yml"
    path.write_text(yaml.safe_dump_all(kept, sort_keys=False))
    return path


def apply(cp: ControlPlane) -> str:
    """``kubectl apply -f`` the CRD/ServiceAccount/RBAC objects; returns kubectl's stdout."""
    out = cp.kubectl("apply", "-f", str(applicable_manifest(cp.workdir))).stdout
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{NAD_CRD}")
    return out


#: Upstream Multus' own RBAC (its deployments/*.yml, v4.2): a separate ServiceAccount, so the
#: benchmark runs upstream with the permissions upstream ships (it writes the network-status
#: with UPDATE, which our least-privilege role does not grant) and ours with ours.
UPSTREAM_SERVICE_ACCOUNT = "multus-upstream"
UPSTREAM_USER = f"system:serviceaccount:{MULTUS_NAMESPACE}:{UPSTREAM_SERVICE_ACCOUNT}"
UPSTREAM_RBAC = f"""\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {UPSTREAM_SERVICE_ACCOUNT}
  namespace: {MULTUS_NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {UPSTREAM_SERVICE_ACCOUNT}
rules:
  - apiGroups: ["k8s.cni.cncf.io"]
    resources: ["*"]
    verbs: ["*"]
  - apiGroups: [""]
    resources: ["pods", "pods/status"]
    verbs: ["get", "list", "update", "watch"]
  - apiGroups: ["", "events.k8s.io"]
    resources: ["events"]
    verbs: ["create", "patch", "update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {UPSTREAM_SERVICE_ACCOUNT}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {UPSTREAM_SERVICE_ACCOUNT}
subjects:
  - kind: ServiceAccount
    name: {UPSTREAM_SERVICE_ACCOUNT}
    namespace: {MULTUS_NAMESPACE}
"""


def apply_upstream_rbac(cp: ControlPlane) -> str:
    """Create upstream's ServiceAccount/ClusterRole/binding (for side-by-side runs)."""
    return cp.kubectl("apply", "-f", "-", input_text=UPSTREAM_RBAC).stdout
