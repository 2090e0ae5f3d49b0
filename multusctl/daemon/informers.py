"""Warm state of the thick daemon: node-local pod and NAD caches behind the ``KubeAPI`` port.

* A pod reflector limited to this node (``fieldSelector=spec.nodeName=<node>``) and a NAD
  reflector keep trimmed copies (metadata name/namespace/uid/resourceVersion, the
  annotations Multus reads, and a NAD's ``spec.config``). Each store has a size bound;
  objects beyond it are not cached and are read from the API instead.
* :class:`WarmKube` serves ``get_pod``/``get_nad`` from the stores, waits briefly for the
  watch when a pod is missing or has another UID, and falls back to one API GET. Writes
  (network-status, events) go to the API through a small pool of keep-alive clients.
  Events are posted by a background thread so ADD does not wait for them.

In steady state an ADD costs one API request: the network-status PATCH.
"""

from __future__ import annotations

import contextlib
import copy
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from multusctl.errors import KubeError
from multusctl.kube import api, rest, watch

#: How long a request waits for the pod watch before asking the API.
POD_WAIT_SECONDS = 0.5
#: Cache sync wait at start-up (THK-04: 20 s, failure only logged).
SYNC_TIMEOUT = 20.0
EVENT_QUEUE_SIZE = 1000
#: Connect timeout when API connections are opened ahead of use at start-up.
PRIME_TIMEOUT = 2.0

_POD_ANNOTATION_PREFIXES = ("k8s.v1.cni.cncf.io/", "v1.multus-cni.io/")
_POD_ANNOTATION_KEYS = frozenset({"kubernetes.io/config.source"})
#: Written by us, large, never read.
_DROPPED_ANNOTATIONS = frozenset(
    {"k8s.v1.cni.cncf.io/network-status", "k8s.v1.cni.cncf.io/networks-status"}
)

Key = tuple[str, str]


def _meta(obj: dict[str, Any], keep: Callable[[str], bool]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if keep(k)}
    if annotations:
        out["annotations"] = annotations
    return out


def _pod_annotation(key: str) -> bool:
    if key in _DROPPED_ANNOTATIONS:
        return False
    return key in _POD_ANNOTATION_KEYS or key.startswith(_POD_ANNOTATION_PREFIXES)


def trim_pod(obj: dict[str, Any]) -> dict[str, Any]:
    """A pod reduced to what the plugin core reads."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(obj, _pod_annotation)}


def trim_nad(obj: dict[str, Any]) -> dict[str, Any]:
    """A NetworkAttachmentDefinition reduced to metadata, Multus annotations and config."""
    out: dict[str, Any] = {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": _meta(obj, lambda k: k.startswith(_POD_ANNOTATION_PREFIXES)),
    }
    spec = obj.get("spec") or {}
    if isinstance(spec, dict) and "config" in spec:
        out["spec"] = {"config": spec["config"]}
    else:
        out["spec"] = {}
    return out


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


class ObjectStore:
    """A bounded, thread-safe map ``(namespace, name) → trimmed object``."""

    def __init__(self, max_objects: int) -> None:
        self.max_objects = max_objects
        self._items: dict[Key, dict[str, Any]] = {}
        self._cond = threading.Condition()
        #: Objects not stored because the bound was reached.
        self.overflow = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def replace(self, objects: list[dict[str, Any]]) -> None:
        items: dict[Key, dict[str, Any]] = {}
        for obj in objects:
            if len(items) >= self.max_objects:
                self.overflow += 1
                continue
            items[_key(obj)] = obj
        with self._cond:
            self._items = items
            self._cond.notify_all()

    def upsert(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        with self._cond:
            if key not in self._items and len(self._items) >= self.max_objects:
                self.overflow += 1
                return
            self._items[key] = obj
            self._cond.notify_all()

    def delete(self, obj: dict[str, Any]) -> None:
        with self._cond:
            self._items.pop(_key(obj), None)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._cond:
            return self._items.get((namespace, name))

    def wait_for(
        self,
        namespace: str,
        name: str,
        accept: Callable[[dict[str, Any]], bool],
        timeout: float,
    ) -> dict[str, Any] | None:
        """The object once ``accept`` likes it, or None after ``timeout`` seconds."""
        found: dict[str, Any] | None = None

        def ready() -> bool:
            nonlocal found
            obj = self._items.get((namespace, name))
            if obj is not None and accept(obj):
                found = obj
                return True
            return False

        with self._cond:
            self._cond.wait_for(ready, timeout=timeout)
        return found


class ApiPool:
    """Keep-alive API clients for concurrent requests (``rest.Client`` is single-threaded)."""

    def __init__(self, factory: Callable[[], rest.Client], size: int = 4) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[rest.Client] = queue.LifoQueue()
        self._size = size
        self._lock = threading.Lock()
        self.requests = 0
        self.request_log: dict[str, int] = {}

    @contextlib.contextmanager
    def kube(self) -> Iterator[api.RestKube]:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._factory()
        try:
            yield api.RestKube(client, component="multus")
        finally:
            with self._lock:
                self.requests += len(client.requests)
                for method, _path in client.requests:
                    self.request_log[method] = self.request_log.get(method, 0) + 1
            client.requests.clear()
            if self._idle.qsize() < self._size:
                self._idle.put(client)
            else:
                client.close()

    def prime(self, count: int, timeout: float) -> int:
        """Open up to ``count`` idle connections ahead of use; how many opened (best effort:
        a failure only means the first requests connect, as without priming)."""
        opened = 0
        for _ in range(min(count, self._size - self._idle.qsize())):
            client = self._factory()
            try:
                client.connect(timeout)
            except KubeError:
                client.close()
                break
            self._idle.put(client)
            opened += 1
        return opened

    def close(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._idle.get_nowait().close()


class EventSink:
    """Posts Kubernetes events from one background thread (best effort, bounded queue)."""

    def __init__(self, pool: ApiPool) -> None:
        self._pool = pool
        self._queue: queue.Queue[tuple[dict[str, Any], str, str, str] | None] = queue.Queue(
            EVENT_QUEUE_SIZE
        )
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def put(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        try:
            self._queue.put_nowait((pod, event_type, reason, message))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            with self._pool.kube() as kube:
                kube.create_event(*item)

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)


class WarmKube:
    """The daemon's shared Kubernetes state: stores, reflectors, API pool, event sink."""

    def __init__(
        self,
        creds: rest.Credentials,
        *,
        node_name: str = "",
        pod_cache_max: int = 2000,
        nad_cache_max: int = 10000,
        async_events: bool = True,
        on_error: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.creds = creds
        self.node_name = node_name
        self.pods = ObjectStore(pod_cache_max)
        self.nads = ObjectStore(nad_cache_max)
        self.pool = ApiPool(lambda: rest.Client(creds))
        self.events = EventSink(self.pool) if async_events else None
        self._stop = threading.Event()
        params = {"fieldSelector": f"spec.nodeName={node_name}"} if node_name else {}
        self.pod_reflector = watch.Reflector(
            watch.StreamClient(creds), "/api/v1/pods", self.pods, params=params,
            trim=trim_pod, on_error=on_error, stop=self._stop,
        )
        self.nad_reflector = watch.Reflector(
            watch.StreamClient(creds), "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions",
            self.nads, trim=trim_nad, on_error=on_error, stop=self._stop,
        )
        self._threads: list[threading.Thread] = []
        self.cache_hits = {"pod": 0, "nad": 0}
        self.cache_misses = {"pod": 0, "nad": 0}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for name, reflector in (("pods", self.pod_reflector), ("nads", self.nad_reflector)):
            thread = threading.Thread(target=reflector.run, name=f"watch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_synced(self, timeout: float = SYNC_TIMEOUT) -> list[str]:
        """Wait for both initial LISTs; returns the names of caches that did not sync."""
        late = []
        for name, reflector in (("pod", self.pod_reflector), ("net-attach-def",
                                                               self.nad_reflector)):
            if not reflector.synced.wait(timeout):
                late.append(name)
        return late

    def prime(self, timeout: float = PRIME_TIMEOUT) -> int:
        """Open the API connections the first ADD uses (its status PATCH and the event
        thread's POST), so that it does not pay for two TLS handshakes."""
        return self.pool.prime(2 if self.events is not None else 1, timeout)

    def close(self) -> None:
        self.pod_reflector.close()
        self.nad_reflector.close()
        if self.events is not None:
            self.events.close()
        for thread in self._threads:
            thread.join(timeout=2)
        self.pool.close()

    # ------------------------------------------------------------------ reads

    def request_count(self) -> int:
        """API requests made outside the watches (GET fallbacks, writes, events)."""
        return self.pool.requests

    def for_request(self, pod_uid: str = "") -> RequestKube:
        return RequestKube(self, pod_uid)

    def pod_uid(self, namespace: str, name: str) -> str:
        """The UID of a pod (cache, then API); raises ``KubeError``."""
        cached = self.pods.get(namespace, name)
        if cached is not None:
            return str(cached["metadata"].get("uid", ""))
        with self.pool.kube() as kube:
            pod = kube.get_pod(namespace, name, timeout=5.0)
        return str((pod.get("metadata") or {}).get("uid", ""))


class RequestKube:
    """``KubeAPI`` for one CNI request: knows which pod UID the runtime expects."""

    def __init__(self, warm: WarmKube, pod_uid: str) -> None:
        self.warm = warm
        self.pod_uid = pod_uid
        self._requests = 0

    def _uid_ok(self, obj: dict[str, Any]) -> bool:
        return not self.pod_uid or obj["metadata"].get("uid") == self.pod_uid

    def get_pod(self, namespace: str, name: str, *, timeout: float) -> dict[str, Any]:
        warm = self.warm
        obj = warm.pods.get(namespace, name)
        if obj is None or not self._uid_ok(obj):
            obj = None
            if warm.pod_reflector.synced.is_set():
                obj = warm.pods.wait_for(namespace, name, self._uid_ok, POD_WAIT_SECONDS)
        if obj is not None:
            warm.cache_hits["pod"] += 1
            return copy.deepcopy(obj)
        warm.cache_misses["pod"] += 1
        self._requests += 1
        with warm.pool.kube() as kube:
            return kube.get_pod(namespace, name, timeout=max(timeout, 1.0))

    def get_nad(self, namespace: str, name: str) -> dict[str, Any]:
        warm = self.warm
        obj = warm.nads.get(namespace, name)
        if obj is not None:
            warm.cache_hits["nad"] += 1
            return copy.deepcopy(obj)
        warm.cache_misses["nad"] += 1
        self._requests += 1
        with warm.pool.kube() as kube:
            return kube.get_nad(namespace, name)

    def set_network_status(self, namespace: str, name: str, uid: str, value: str) -> None:
        self._requests += 1
        with self.warm.pool.kube() as kube:
            kube.set_network_status(namespace, name, uid, value)

    def create_event(
        self, pod: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        if self.warm.events is not None:
            self.warm.events.put(pod, event_type, reason, message)
            return
        self._requests += 1
        with self.warm.pool.kube() as kube, contextlib.suppress(KubeError):
            kube.create_event(pod, event_type, reason, message)

    def request_count(self) -> int:
        return self._requests
