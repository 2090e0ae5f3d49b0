"""API objects for tests that run against the real control plane (tests/cluster).

Thin helpers over the official ``kubernetes`` client: namespaces, NetworkAttachmentDefinitions
and pods bound to a node by ``spec.nodeName`` (there is no scheduler and no kubelet, so a pod
is just an API object that stays Pending), plus reading a pod's annotations back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config

NAD_GROUP = "k8s.cni.cncf.io"
NAD_VERSION = "v1"
NAD_PLURAL = "network-attachment-definitions"
#: Image of the placeholder container; never pulled (no kubelet).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def api_client(kubeconfig: Path) -> client.ApiClient:
    """A client authenticated by ``kubeconfig`` (admin certificate or a token)."""
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return cast("client.ApiClient", api)


def create_namespace(api: client.ApiClient, name: str) -> None:
    """Create a namespace and its ``default`` ServiceAccount.

    No controller-manager runs, so nothing else creates that ServiceAccount, and the
    ServiceAccount admission plugin rejects pods without it.
    """
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_service_account(
        name, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="default"))
    )


def delete_namespace(api: client.ApiClient, name: str) -> None:
    """Ask for the namespace's deletion (it lingers in Terminating: no controller-manager)."""
    client.CoreV1Api(api).delete_namespace(name)


def create_nad(
    api: client.ApiClient,
    namespace: str,
    name: str,
    cni_config: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Create a NetworkAttachmentDefinition; ``cni_config=None`` gives an empty ``spec``.

    ``cni_config`` is stored verbatim as ``spec.config`` (a JSON string, or anything else a
    test wants to see rejected by our validation).
    """
    spec: dict[str, str] = {} if cni_config is None else {"config": cni_config}
    body: dict[str, Any] = {
        "apiVersion": f"{NAD_GROUP}/{NAD_VERSION}",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "annotations": dict(annotations or {})},
        "spec": spec,
    }
    created = client.CustomObjectsApi(api).create_namespaced_custom_object(
        NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, body
    )
    return cast("dict[str, Any]", created)


def get_nad(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    nad = client.CustomObjectsApi(api).get_namespaced_custom_object(
        NAD_GROUP, NAD_VERSION, namespace, NAD_PLURAL, name
    )
    return cast("dict[str, Any]", nad)


def create_pod(
    api: client.ApiClient,
    namespace: str,
    name: str,
    node_name: str = "node-1",
    annotations: Mapping[str, str] | None = None,
) -> client.V1Pod:
    """Create a pod already bound to ``node_name`` (as if scheduled there)."""
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations=dict(annotations or {})),
        spec=client.V1PodSpec(
            node_name=node_name,
            automount_service_account_token=False,
            containers=[client.V1Container(name="main", image=PAUSE_IMAGE)],
        ),
    )
    created: client.V1Pod = client.CoreV1Api(api).create_namespaced_pod(namespace, pod)
    return created


def as_json(api: client.ApiClient, obj: object) -> dict[str, Any]:
    """A client model (or a custom-object response) as its JSON form, camelCase keys."""
    return cast("dict[str, Any]", api.sanitize_for_serialization(obj))  # type: ignore[no-untyped-call]


def read_pod(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """The pod as its JSON form (camelCase keys, as ``kubectl get -o json`` shows it)."""
    pod = client.CoreV1Api(api).read_namespaced_pod(name, namespace)
    return as_json(api, pod)


def pod_annotations(api: client.ApiClient, namespace: str, name: str) -> dict[str, str]:
    """The pod's current annotations (empty dict when it has none)."""
    annotations = read_pod(api, namespace, name)["metadata"].get("annotations") or {}
    return dict(annotations)
