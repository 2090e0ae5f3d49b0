"""The plugin's Kubernetes port over the small REST client (thin plugin)."""

from __future__ import annotations

import datetime
import os
import uuid
from typing import Any

from multusctl.errors import KubeConflict, KubeError
from multusctl.kube import rest
from multusctl.kube.rest import quote

NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
#: Attempts for the status write (client-go's DefaultRetry is 5).
STATUS_RETRIES = 5


class RestKube:
    """Implements ``multusctl.plugin.ports.KubeAPI`` with one keep-alive connection."""

    def __init__(self, client: rest.Client, *, component: str = "multus") -> None:
        self.client = client
        self.component = component

    def get_pod(self, namespace: str, name: str, *, timeout: float) -> dict[str, Any]:
        return self.client.request(
            "GET", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}", timeout=timeout
        )

    def get_nad(self, namespace: str, name: str) -> dict[str, Any]:
        return self.client.request(
            "GET",
            f"/apis/k8s.cni.cncf.io/v1/namespaces/{quote(namespace)}/"
            f"network-attachment-definitions/{quote(name)}",
        )

    def set_network_status(self, namespace: str, name: str, uid: str, value: str) -> None:
        """One merge PATCH of ``pods/status``; ``metadata.uid`` makes it a precondition.

        Without a resourceVersion in the patch the server merges it into the newest
        object, so concurrent writers of other fields cannot make it conflict. A pod
        re-created under the same name has another UID: the server refuses the patch (422,
        uid is immutable) and nothing is written. A 409 (a transient storage conflict) is
        retried a few times like client-go's DefaultRetry.
        """
        body: dict[str, Any] = {"metadata": {"annotations": {NETWORK_STATUS: value}}}
        if uid:
            body["metadata"]["uid"] = uid
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}/status"
        for attempt in range(STATUS_RETRIES):
            try:
                self.client.request(
                    "PATCH", path, body, content_type="application/merge-patch+json"
                )
                return
            except KubeConflict as exc:
                if "precondition" in str(exc).lower() or attempt == STATUS_RETRIES - 1:
                    raise

    def create_event(
        self, pod: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        meta = pod.get("metadata", {})
        namespace = str(meta.get("namespace", "default"))
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name', 'pod')}.{uuid.uuid4().hex[:16]}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": meta.get("name", ""),
                "namespace": namespace,
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "type": event_type,
            "reason": reason,
            "message": message,
            "source": {"component": self.component, "host": os.uname().nodename},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.client.request("POST", f"/api/v1/namespaces/{quote(namespace)}/events", body)
        except KubeError:
            # Events are best effort, as with client-go's recorder.
            return

    def request_count(self) -> int:
        return len(self.client.requests)

    def close(self) -> None:
        self.client.close()
