"""Read access through the official ``kubernetes`` client, for CLI tools.

Imported lazily by commands that read from a cluster with the user's kubeconfig
(``explain --from-cluster``); the CNI hot path never imports it.
"""

from __future__ import annotations

from typing import Any

from multusctl.errors import KubeError, KubeForbidden, KubeNotFound, KubeUnavailable


def api_client(kubeconfig: str | None) -> Any:
    """An ``ApiClient`` from ``kubeconfig`` (or the default kubeconfig / in-cluster env)."""
    from kubernetes import client, config

    try:
        if kubeconfig:
            return config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        try:
            return config.new_client_from_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return client.ApiClient()
    except (config.ConfigException, OSError) as exc:
        raise KubeError(f"cannot load kubeconfig: {exc}") from None


def translate(exc: Exception, what: str) -> KubeError:
    """Map the client's ApiException / urllib3 errors onto our error tree."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        message = f"{what}: {exc.reason} (HTTP {status})"
        if status == 404:
            return KubeNotFound(message, status=status)
        if status == 403:
            return KubeForbidden(message, status=status)
        if status >= 500:
            return KubeUnavailable(message)
        return KubeError(message, status=status)
    return KubeUnavailable(f"{what}: {exc}")


class ReadOnlyKube:
    """``KubeAPI`` for dry runs: reads pods and NADs, never writes anything."""

    def __init__(self, kubeconfig: str | None) -> None:
        self.api = api_client(kubeconfig)
        self.calls = 0

    def get_pod(self, namespace: str, name: str, *, timeout: float) -> dict[str, Any]:
        from kubernetes import client

        self.calls += 1
        try:
            pod = client.CoreV1Api(self.api).read_namespaced_pod(
                name, namespace, _request_timeout=timeout
            )
        except Exception as exc:  # noqa: BLE001 - translated at the boundary
            raise translate(exc, f"get pod {namespace}/{name}") from None
        data: dict[str, Any] = self.api.sanitize_for_serialization(pod)
        return data

    def get_nad(self, namespace: str, name: str) -> dict[str, Any]:
        from kubernetes import client

        self.calls += 1
        try:
            obj = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
                "k8s.cni.cncf.io", "v1", namespace, "network-attachment-definitions", name
            )
        except Exception as exc:  # noqa: BLE001 - translated at the boundary
            raise translate(exc, f"get network-attachment-definition {namespace}/{name}") from None
        data: dict[str, Any] = dict(obj)  # type: ignore[call-overload]
        return data

    def set_network_status(self, namespace: str, name: str, uid: str, value: str) -> None:
        return

    def create_event(
        self, pod: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        return

    def request_count(self) -> int:
        return self.calls
