"""The watch loop: filesystem events only wake it, a reconcile function decides.

The loop is level-triggered. A watchdog (inotify) observer on *directories* pushes a
wake-up into a queue for every relevant event; the loop drains the queue, waits a short
debounce (a kubelet ``..data`` symlink swap is a burst of events) and calls
``reconcile()``, which compares content and writes only what differs. Our own writes
therefore wake the loop once and end in a no-op. A periodic resync calls ``reconcile()``
even without events, so a missed event (or a broken watch) heals itself.

Everything that blocks is injected: the wake queue (``Waker``), the stop event and the
reconcile callable, so tests drive the loop without sleeping.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from multusctl.errors import MultusError

#: watchdog event types that never mean "content changed" (our own reads produce them).
_IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})


class Waiter(Protocol):
    """Blocks until woken or until a timeout; ``wake`` is safe from any thread."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when woken by an event."""
        ...

    def wake(self, reason: str = "") -> None:
        """Wake a pending or the next ``wait``."""
        ...


class Waker:
    """The real ``Waiter``: a queue of wake-ups with a short debounce."""

    def __init__(self, *, debounce: float = 0.01, sleep: Callable[[float], None] = time.sleep):
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._debounce = debounce
        self._sleep = sleep

    def wake(self, reason: str = "") -> None:
        self._queue.put(reason)

    def wait(self, timeout: float) -> bool:
        try:
            self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return False
        if self._debounce > 0:
            self._sleep(self._debounce)
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        return True


class DirectoryWatcher:
    """A watchdog observer on a set of directories (non-recursive) feeding a waker."""

    def __init__(self, directories: Iterable[str], wake: Callable[[str], None]):
        self.directories = tuple(dict.fromkeys(str(Path(d)) for d in directories if d))
        self._wake = wake
        self._observer: Any = None

    def start(self) -> list[str]:
        """Start watching; returns the directories actually watched (missing ones are
        skipped). Raises ``OSError`` when inotify is unavailable (limits, no support)."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        wake = self._wake

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type not in _IGNORED_EVENTS:
                    wake(str(event.src_path))

        observer = Observer()
        watched: list[str] = []
        handler = _Handler()
        for directory in self.directories:
            if Path(directory).is_dir():
                observer.schedule(handler, directory, recursive=False)
                watched.append(directory)
        observer.daemon = True
        observer.start()
        self._observer = observer
        return watched

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None


def watch_loop(
    reconcile: Callable[[], object],
    *,
    waiter: Waiter,
    stop: threading.Event,
    resync_interval: float,
    on_error: Callable[[Exception], None],
) -> None:
    """Call ``reconcile`` after every wake-up and at least every ``resync_interval``
    seconds until ``stop`` is set. Deliberate and I/O errors go to ``on_error`` and the
    loop carries on (the previous files stay in place); anything else is a bug and ends
    the loop."""
    while not stop.is_set():
        waiter.wait(resync_interval)
        if stop.is_set():
            break
        try:
            reconcile()
        except (MultusError, OSError) as err:
            on_error(err)
