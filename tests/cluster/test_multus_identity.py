"""The Python kubernetes client with the multus token kubeconfig (TokenRequest)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubeobjects
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from manifests import MULTUS_USER

pytestmark = pytest.mark.cluster

NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
NAD_CONFIG = '{"cniVersion":"1.0.0","name":"macvlan-net","type":"macvlan","master":"eth0"}'


def test_token_kubeconfig_authenticates_as_the_service_account(
    multus_kubeconfig: Path, multus_api: client.ApiClient
) -> None:
    cfg = json.loads(multus_kubeconfig.read_text())
    (user,) = cfg["users"]
    assert set(user["user"]) == {"token"}  # a bearer token, no client certificate
    review = client.AuthenticationV1Api(multus_api).create_self_subject_review(
        client.V1SelfSubjectReview()
    )
    user_info = kubeobjects.as_json(multus_api, review)["status"]["userInfo"]
    assert user_info["username"] == MULTUS_USER
    assert "system:serviceaccounts:kube-system" in user_info["groups"]


def test_get_pod_and_nad(
    admin_api: client.ApiClient, multus_api: client.ApiClient, namespace: str
) -> None:
    kubeobjects.create_nad(
        admin_api,
        namespace,
        "macvlan-net",
        NAD_CONFIG,
        annotations={"k8s.v1.cni.cncf.io/resourceName": "example.com/nic"},
    )
    kubeobjects.create_nad(admin_api, namespace, "empty-spec")
    kubeobjects.create_pod(
        admin_api,
        namespace,
        "p1",
        node_name="node-a",
        annotations={"k8s.v1.cni.cncf.io/networks": "macvlan-net"},
    )

    pod = kubeobjects.read_pod(multus_api, namespace, "p1")
    assert pod["spec"]["nodeName"] == "node-a"
    assert pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == "macvlan-net"

    nad = kubeobjects.get_nad(multus_api, namespace, "macvlan-net")
    assert nad["spec"]["config"] == NAD_CONFIG  # stored verbatim
    assert nad["metadata"]["annotations"]["k8s.v1.cni.cncf.io/resourceName"] == "example.com/nic"
    assert kubeobjects.get_nad(multus_api, namespace, "empty-spec")["spec"] == {}


def test_list_pods_and_nads_cluster_wide(
    admin_api: client.ApiClient, multus_api: client.ApiClient, namespace: str
) -> None:
    kubeobjects.create_nad(admin_api, namespace, "n1", NAD_CONFIG)
    kubeobjects.create_pod(admin_api, namespace, "p1", node_name="node-a")
    kubeobjects.create_pod(admin_api, namespace, "p2", node_name="node-b")
    pods = kubeobjects.as_json(
        multus_api,
        client.CoreV1Api(multus_api).list_pod_for_all_namespaces(
            field_selector="spec.nodeName=node-a"
        ),
    )
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods["items"]} >= {
        (namespace, "p1")
    }
    assert all(p["spec"]["nodeName"] == "node-a" for p in pods["items"])
    nads = kubeobjects.as_json(
        multus_api,
        client.CustomObjectsApi(multus_api).list_cluster_custom_object(
            kubeobjects.NAD_GROUP, kubeobjects.NAD_VERSION, kubeobjects.NAD_PLURAL
        ),
    )
    assert (namespace, "n1") in {
        (n["metadata"]["namespace"], n["metadata"]["name"]) for n in nads["items"]
    }


def test_patch_pods_status_sets_an_annotation(
    admin_api: client.ApiClient, multus_api: client.ApiClient, namespace: str
) -> None:
    kubeobjects.create_pod(admin_api, namespace, "p1")
    status = json.dumps([{"name": "default/macvlan-net", "interface": "net1"}])
    client.CoreV1Api(multus_api).patch_namespaced_pod_status(
        "p1", namespace, {"metadata": {"annotations": {NETWORK_STATUS: status}}}
    )
    assert kubeobjects.pod_annotations(admin_api, namespace, "p1")[NETWORK_STATUS] == status


def test_patch_pods_status_with_uid_precondition(
    admin_api: client.ApiClient, multus_api: client.ApiClient, namespace: str
) -> None:
    """The plugin's write: one merge PATCH of pods/status, metadata.uid as precondition."""
    core = client.CoreV1Api(multus_api)
    kubeobjects.create_pod(admin_api, namespace, "p1")
    pod = core.read_namespaced_pod("p1", namespace)
    assert pod.metadata is not None
    uid = pod.metadata.uid
    core.patch_namespaced_pod_status(
        "p1", namespace, {"metadata": {"uid": uid, "annotations": {NETWORK_STATUS: "[]"}}}
    )
    assert kubeobjects.pod_annotations(admin_api, namespace, "p1") == {NETWORK_STATUS: "[]"}

    # a pod re-created under the same name (another UID) is never written by mistake
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod_status(
            "p1",
            namespace,
            {
                "metadata": {
                    "uid": "00000000-0000-0000-0000-000000000000",
                    "annotations": {NETWORK_STATUS: '[{"name":"x"}]'},
                }
            },
        )
    assert exc.value.status == 422  # metadata.uid is immutable: the patch is refused
    assert kubeobjects.pod_annotations(admin_api, namespace, "p1") == {NETWORK_STATUS: "[]"}

    # UPDATE is not needed, so not granted
    current = core.read_namespaced_pod("p1", namespace)
    with pytest.raises(ApiException) as denied:
        core.replace_namespaced_pod_status("p1", namespace, current)
    assert denied.value.status == 403


def test_status_subresource_cannot_change_the_spec(
    admin_api: client.ApiClient, multus_api: client.ApiClient, namespace: str
) -> None:
    kubeobjects.create_pod(admin_api, namespace, "p1", node_name="node-a")
    client.CoreV1Api(multus_api).patch_namespaced_pod_status(
        "p1", namespace, {"spec": {"activeDeadlineSeconds": 5}}
    )
    assert "activeDeadlineSeconds" not in kubeobjects.read_pod(admin_api, namespace, "p1")["spec"]


def test_create_core_events_only(multus_api: client.ApiClient, namespace: str) -> None:
    ref = client.V1ObjectReference(kind="Pod", namespace=namespace, name="p1")
    client.CoreV1Api(multus_api).create_namespaced_event(
        namespace,
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name="p1."),
            involved_object=ref,
            reason="AddedInterface",
            message="Add net1 [10.1.1.2/24] from default/macvlan-net",
            type="Normal",
        ),
    )
    with pytest.raises(ApiException) as denied:
        client.EventsV1Api(multus_api).create_namespaced_event(
            namespace,
            client.EventsV1Event(
                metadata=client.V1ObjectMeta(generate_name="p1."),
                regarding=ref,
                reason="AddedInterface",
                note="Add net1",
                type="Normal",
                action="Added",
                event_time=datetime.now(UTC),
                reporting_controller="multus",
                reporting_instance="node-a",
            ),
        )
    assert denied.value.status == 403


Call = Callable[[client.ApiClient, str], Any]

FORBIDDEN: dict[str, Call] = {
    "list secrets": lambda api, ns: client.CoreV1Api(api).list_namespaced_secret(ns),
    "list secrets cluster-wide": lambda api, ns: client.CoreV1Api(
        api
    ).list_secret_for_all_namespaces(),
    "delete pod": lambda api, ns: client.CoreV1Api(api).delete_namespaced_pod("p1", ns),
    "create pod": lambda api, ns: client.CoreV1Api(api).create_namespaced_pod(
        ns,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="p2"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="x")]),
        ),
    ),
    "patch pod": lambda api, ns: client.CoreV1Api(api).patch_namespaced_pod(
        "p1", ns, {"metadata": {"labels": {"a": "b"}}}
    ),
    "create nad": lambda api, ns: kubeobjects.create_nad(api, ns, "n2", NAD_CONFIG),
    "patch nad": lambda api, ns: client.CustomObjectsApi(api).patch_namespaced_custom_object(
        kubeobjects.NAD_GROUP,
        kubeobjects.NAD_VERSION,
        ns,
        kubeobjects.NAD_PLURAL,
        "n1",
        {"spec": {"config": "{}"}},
    ),
    "delete nad": lambda api, ns: client.CustomObjectsApi(api).delete_namespaced_custom_object(
        kubeobjects.NAD_GROUP, kubeobjects.NAD_VERSION, ns, kubeobjects.NAD_PLURAL, "n1"
    ),
    "list nodes": lambda api, ns: client.CoreV1Api(api).list_node(),
    "get namespace": lambda api, ns: client.CoreV1Api(api).read_namespace(ns),
    "list configmaps": lambda api, ns: client.CoreV1Api(api).list_namespaced_config_map(ns),
    "list events": lambda api, ns: client.CoreV1Api(api).list_namespaced_event(ns),
}


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_everything_else_is_forbidden(
    admin_api: client.ApiClient, multus_api: client.ApiClient, namespace: str, what: str
) -> None:
    kubeobjects.create_pod(admin_api, namespace, "p1")
    kubeobjects.create_nad(admin_api, namespace, "n1", NAD_CONFIG)
    with pytest.raises(ApiException) as exc:
        FORBIDDEN[what](multus_api, namespace)
    assert exc.value.status == 403
    # the objects the denied calls aimed at are untouched
    assert kubeobjects.get_nad(admin_api, namespace, "n1")["spec"]["config"] == NAD_CONFIG
    assert kubeobjects.pod_annotations(admin_api, namespace, "p1") == {}
