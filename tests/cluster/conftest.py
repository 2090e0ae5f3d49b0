"""Fixtures of the cluster tier: a real etcd + kube-apiserver, our manifests applied to it.

The binaries come from ``tests/cluster/build.sh``. When they are missing the fixtures
*fail* (they never skip): deselect the whole directory to run without a cluster.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import controlplane
import kubeobjects
import manifests
from kubernetes import client


@pytest.fixture(scope="session")
def cluster_binaries() -> controlplane.Binaries:
    """kube-apiserver, etcd and cnitool as built for the current pins."""
    try:
        return controlplane.find_binaries()
    except controlplane.ControlPlaneError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def cnitool_path(cluster_binaries: controlplane.Binaries) -> Path:
    """The libcni reference client (github.com/containernetworking/cni/cnitool)."""
    return cluster_binaries.cnitool


@pytest.fixture(scope="session")
def control_plane(
    cluster_binaries: controlplane.Binaries,
) -> Iterator[controlplane.ControlPlane]:
    """A running control plane for the whole session; stopped and removed at its end."""
    cp = controlplane.ControlPlane(cluster_binaries)
    try:
        cp.start()
    except controlplane.ControlPlaneError as e:
        pytest.fail(f"cannot start the test control plane: {e}", pytrace=False)
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def admin_kubeconfig(control_plane: controlplane.ControlPlane) -> Path:
    """Kubeconfig with a ``system:masters`` client certificate."""
    return control_plane.admin_kubeconfig


@pytest.fixture(scope="session")
def applied_manifests(control_plane: controlplane.ControlPlane) -> str:
    """``kubectl apply -f`` of our CRD/ServiceAccount/RBAC; waits for the CRD. Returns stdout."""
    return manifests.apply(control_plane)


@pytest.fixture(scope="session")
def multus_kubeconfig(control_plane: controlplane.ControlPlane, applied_manifests: str) -> Path:
    """Kubeconfig holding a TokenRequest token of ``kube-system/multus``."""
    return control_plane.service_account_kubeconfig(
        manifests.MULTUS_NAMESPACE, manifests.MULTUS_SERVICE_ACCOUNT
    )


@pytest.fixture(scope="session")
def admin_api(admin_kubeconfig: Path) -> Iterator[client.ApiClient]:
    api = kubeobjects.api_client(admin_kubeconfig)
    with api:
        yield api


@pytest.fixture(scope="session")
def multus_api(multus_kubeconfig: Path) -> Iterator[client.ApiClient]:
    """The Python client as the multus ServiceAccount (exactly the manifests' permissions)."""
    api = kubeobjects.api_client(multus_kubeconfig)
    with api:
        yield api


@pytest.fixture
def namespace(admin_api: client.ApiClient, applied_manifests: str) -> Iterator[str]:
    """A fresh namespace (with its ``default`` ServiceAccount) for one test."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kubeobjects.create_namespace(admin_api, name)
    yield name
    kubeobjects.delete_namespace(admin_api, name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Cluster tests may pay for starting the session's control plane (up to ~90 s on a
    loaded machine) and run real plugins: give them more than the suite's 120 s default."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.timeout(600))
