"""What the plugin core needs from the outside world, as Protocols (ports).

The composition root (``multusctl.bin.multus``, later the thick daemon) passes real
implementations; unit tests pass small fakes.
"""

from __future__ import annotations

from typing import Any, Protocol


class Log(Protocol):
    """The upstream-compatible plugin logger (``multusctl.logs.Logger`` implements it)."""

    def debug(self, msg: str) -> None: ...

    def verbose(self, msg: str) -> None: ...

    def error(self, msg: str) -> None: ...


class Clock(Protocol):
    """Time, injectable so waits can be tested without sleeping."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        import time

        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


class NullLog:
    """A logger that drops everything (for tools that only want the core's results)."""

    def debug(self, msg: str) -> None:
        pass

    def verbose(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        pass


class KubeAPI(Protocol):
    """The API server as the plugin core sees it.

    ``multusctl.kube.api.RestKube`` implements it over HTTP for the thin plugin; the thick
    daemon implements it with warm watch caches. Methods raise ``multusctl.errors.KubeError``
    subclasses (``KubeNotFound``, ``KubeUnavailable``, …).
    """

    def get_pod(self, namespace: str, name: str, *, timeout: float) -> dict[str, Any]: ...

    def get_nad(self, namespace: str, name: str) -> dict[str, Any]: ...

    def set_network_status(self, namespace: str, name: str, uid: str, value: str) -> None:
        """Write the network-status annotation through ``pods/status`` (UID-guarded)."""
        ...

    def create_event(
        self, pod: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None: ...

    def request_count(self) -> int:
        """How many API requests this client made (for logs and benchmarks)."""
        ...
