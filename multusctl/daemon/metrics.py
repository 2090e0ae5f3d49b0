"""Prometheus metrics of the thick daemon (THK-16), on ``metricsPort``.

One registry per daemon (no module-level state). Upstream's counter
``multus_server_request_total{handler,code,method}`` plus multusctl's latency histograms
(per CNI command, and per delegate plugin type through the ``cni.invoke`` observer hook),
in-flight gauge, cache sizes and API request counter. The HTTP listener is started once;
a bind failure is retried without registering anything twice (BUG-16).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

#: CNI calls are tens of milliseconds normally, seconds when a delegate is slow.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
BIND_RETRY_SECONDS = 5.0


class Metrics:
    """All daemon metrics in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "multus_server_request_total",
            "Requests served on the multus daemon socket.",
            ["handler", "code", "method"],
            registry=self.registry,
        )
        self.command_latency = Histogram(
            "multus_cni_command_duration_seconds",
            "Time to serve one CNI command in the daemon (delegates included).",
            ["command", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.delegate_latency = Histogram(
            "multus_delegate_duration_seconds",
            "Time one delegate plugin took to run, by plugin type (each plugin of a conflist "
            "counts on its own).",
            ["type", "command", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "multus_server_requests_in_flight",
            "CNI requests being executed now.",
            registry=self.registry,
        )
        self.waiting = Gauge(
            "multus_server_requests_waiting",
            "CNI requests waiting for a free execution slot (maxConcurrentRequests).",
            registry=self.registry,
        )
        self.cache_objects = Gauge(
            "multus_cache_objects",
            "Objects held in the daemon's watch caches.",
            ["cache"],
            registry=self.registry,
        )
        self.api_requests = Gauge(
            "multus_kube_api_requests",
            "API requests made by the daemon outside its watches (monotonic).",
            registry=self.registry,
        )
        self._server: Any = None
        self._stop = threading.Event()

    def watch_cache(self, name: str, size: Callable[[], float]) -> None:
        self.cache_objects.labels(cache=name).set_function(size)

    def watch_api_requests(self, count: Callable[[], float]) -> None:
        self.api_requests.set_function(count)

    def observe_command(self, command: str, seconds: float, *, ok: bool) -> None:
        self.command_latency.labels(command=command, outcome="ok" if ok else "error").observe(
            seconds
        )

    def observe_delegate(self, plugin_type: str, command: str, seconds: float, ok: bool) -> None:
        """The ``cni.invoke`` observer: one delegate plugin run (``DelegateObserver``)."""
        self.delegate_latency.labels(
            type=plugin_type, command=command, outcome="ok" if ok else "error"
        ).observe(seconds)

    def observe_request(self, handler: str, code: int, method: str) -> None:
        self.requests.labels(handler=handler, code=str(code), method=method.lower()).inc()

    def serve(self, port: int, on_error: Callable[[str], None]) -> None:
        """Start ``/metrics`` on ``:port`` in the background; retry the bind until stopped."""

        def run() -> None:
            while not self._stop.is_set():
                try:
                    self._server, _thread = start_http_server(port, registry=self.registry)
                    return
                except OSError as exc:
                    on_error(f"metrics server on port {port} failed: {exc}; retrying")
                    self._stop.wait(BIND_RETRY_SECONDS)

        threading.Thread(target=run, name="metrics", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def timer() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: time.monotonic() - start
