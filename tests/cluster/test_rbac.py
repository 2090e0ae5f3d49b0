"""The multus ServiceAccount holds exactly the permissions the code uses, and no more."""

from __future__ import annotations

import re

import controlplane
import pytest
from manifests import MULTUS_USER

pytestmark = pytest.mark.cluster

NAD = "network-attachment-definitions.k8s.cni.cncf.io"

#: `kubectl auth can-i --list` rows for resources: resource -> verbs.  The last three come
#: from system:basic-user, which every authenticated user has (self reviews).
EXPECTED_RESOURCE_RULES = {
    NAD: {"get", "list", "watch"},
    "pods": {"get", "list", "watch"},
    "pods/status": {"patch"},
    "events": {"create"},
    "selfsubjectreviews.authentication.k8s.io": {"create"},
    "selfsubjectaccessreviews.authorization.k8s.io": {"create"},
    "selfsubjectrulesreviews.authorization.k8s.io": {"create"},
}

ROW = re.compile(r"^(\S*)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$")


def can_i_list(cp: controlplane.ControlPlane, namespace: str) -> dict[str, set[str]]:
    out = cp.kubectl(
        "auth", "can-i", "--list", f"--as={MULTUS_USER}", "-n", namespace, "--no-headers"
    ).stdout
    rules: dict[str, set[str]] = {}
    for line in out.splitlines():
        m = ROW.match(line)
        assert m, f"unexpected can-i --list line: {line!r}"
        resource, _urls, names, verbs = m.groups()
        if not resource:  # non-resource URLs (/api, /healthz, ...) granted to everybody
            continue
        assert names == "", f"{resource} is limited to names {names}"
        rules.setdefault(resource, set()).update(verbs.split())
    return rules


@pytest.mark.parametrize("ns", ["default", "kube-system"])
def test_can_i_list_is_exactly_what_the_code_needs(
    control_plane: controlplane.ControlPlane, applied_manifests: str, ns: str
) -> None:
    assert can_i_list(control_plane, ns) == EXPECTED_RESOURCE_RULES


def can_i(cp: controlplane.ControlPlane, verb: str, resource: str, *extra: str) -> str:
    # `kubectl auth can-i update pods/status` would ask about a pod *named* "status".
    if "/" in resource:
        base, sub = resource.split("/", 1)
        args = [base, f"--subresource={sub}"]
    else:
        args = [resource]
    proc = cp.kubectl("auth", "can-i", verb, *args, f"--as={MULTUS_USER}", *extra, check=False)
    answer = proc.stdout.strip()
    # kubectl exits 0 for "yes" and 1 for "no"; anything else is a broken check.
    assert (answer, proc.returncode) in {("yes", 0), ("no", 1)}, proc
    return answer


ALLOWED = [
    ("get", NAD),
    ("list", NAD),
    ("watch", NAD),
    ("get", "pods"),
    ("list", "pods"),
    ("watch", "pods"),
    ("patch", "pods/status"),
    ("create", "events"),
]

DENIED = [
    # pods: never written or deleted, spec untouched
    ("delete", "pods"),
    ("create", "pods"),
    ("update", "pods"),
    ("patch", "pods"),
    ("deletecollection", "pods"),
    ("get", "pods/status"),
    ("update", "pods/status"),
    ("patch", "events"),
    ("create", "events.events.k8s.io"),
    ("create", "pods/eviction"),
    ("create", "pods/exec"),
    # NADs are user-owned
    ("create", NAD),
    ("update", NAD),
    ("patch", NAD),
    ("delete", NAD),
    ("deletecollection", NAD),
    # nothing else
    ("get", "secrets"),
    ("list", "secrets"),
    ("watch", "secrets"),
    ("get", "configmaps"),
    ("list", "nodes"),
    ("get", "namespaces"),
    ("update", "events"),
    ("delete", "events"),
    ("list", "events"),
    ("create", "serviceaccounts/token"),
    ("get", "customresourcedefinitions.apiextensions.k8s.io"),
]


@pytest.mark.parametrize(("verb", "resource"), ALLOWED)
@pytest.mark.parametrize("where", [("-n", "default"), ("--all-namespaces",)])
def test_allowed(
    control_plane: controlplane.ControlPlane,
    applied_manifests: str,
    verb: str,
    resource: str,
    where: tuple[str, ...],
) -> None:
    assert can_i(control_plane, verb, resource, *where) == "yes"


@pytest.mark.parametrize(("verb", "resource"), DENIED)
def test_denied(
    control_plane: controlplane.ControlPlane, applied_manifests: str, verb: str, resource: str
) -> None:
    assert can_i(control_plane, verb, resource, "-n", "default") == "no"
