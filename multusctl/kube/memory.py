"""An in-memory ``KubeAPI``: pods and NADs held as dicts, writes recorded, nothing sent.

``multusctl explain`` uses it to run the plugin's exact resolution code on objects read
from files; unit tests use it as the fake API server for pure logic.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from multusctl.errors import KubeNotFound


class MemoryKube:
    """Implements ``multusctl.plugin.ports.KubeAPI`` over dicts."""

    def __init__(self, objects: Iterable[dict[str, Any]] = ()) -> None:
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.nads: dict[tuple[str, str], dict[str, Any]] = {}
        self.statuses: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str, str]] = []
        self.calls = 0
        for obj in objects:
            self.add(obj)

    def add(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or "default"), str(meta.get("name", "")))
        if obj.get("kind") == "Pod":
            self.pods[key] = obj
        elif obj.get("kind") == "NetworkAttachmentDefinition":
            self.nads[key] = obj

    def get_pod(self, namespace: str, name: str, *, timeout: float) -> dict[str, Any]:
        self.calls += 1
        try:
            return copy.deepcopy(self.pods[(namespace, name)])
        except KeyError:
            raise KubeNotFound(f'pods "{name}" not found', status=404) from None

    def get_nad(self, namespace: str, name: str) -> dict[str, Any]:
        self.calls += 1
        try:
            return copy.deepcopy(self.nads[(namespace, name)])
        except KeyError:
            raise KubeNotFound(
                f'network-attachment-definitions.k8s.cni.cncf.io "{name}" not found', status=404
            ) from None

    def set_network_status(self, namespace: str, name: str, uid: str, value: str) -> None:
        self.calls += 1
        self.statuses.append((namespace, name, value))

    def create_event(
        self, pod: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        self.calls += 1
        self.events.append((event_type, reason, message))

    def request_count(self) -> int:
        return self.calls
