"""The daemon's unix-socket HTTP server (``daemon.server``): how connections get threads.

A real ``UnixHTTPServer`` on a socket in a tmp dir, real clients; the CNI handler is a
stand-in whose behaviour each test sets (block, count, sleep). What is pinned: kept workers
serve one connection after another (no thread per connection), concurrent connections are
still served at once, idle workers beyond the bound exit, ``connectionLimit`` still bounds
what is served, and ``stop()`` waits for the connections being served.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from multusctl.daemon import server as server_mod
from multusctl.daemon.service import Reply

Handler = Callable[[bytes], Reply]


def request(sock: Path, method: str = "POST", path: str = "/cni", body: bytes = b"{}") -> int:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(sock))
    s.sendall(
        f"{method} {path} HTTP/1.1\r\nHost: dummy\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return int(data.split(b" ", 2)[1])


class Served:
    """A server whose /cni handler is ``self.handler`` (200 by default)."""

    def __init__(self, tmp: Path, connection_limit: int | None = None) -> None:
        self.sock = tmp / "multus.sock"
        self.handler: Handler = lambda _body: Reply(200)
        self.server = server_mod.UnixHTTPServer(
            str(self.sock), cni=self._cni, delegate=lambda _b: Reply(200),
            connection_limit=connection_limit,
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.server.ready.set()

    def _cni(self, body: bytes) -> Reply:
        return self.handler(body)  # looked up per request: tests swap the handler

    def workers(self) -> int:
        return len(self.server.workers)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path)
    yield s
    s.server.stop()


def _wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_one_worker_serves_connections_one_after_another(served: Served) -> None:
    seen: set[threading.Thread] = set()  # the objects: an ident is reused once freed

    def handler(_body: bytes) -> Reply:
        seen.add(threading.current_thread())
        return Reply(200)

    served.handler = handler
    for _ in range(30):
        assert request(served.sock) == 200
        assert request(served.sock, "GET", "/healthz", b"") == 200
    assert len(seen) == 1
    assert served.workers() == 1


def test_concurrent_connections_are_served_at_once(served: Served) -> None:
    """Five handlers that only return once all five run: served one by one, they would
    never meet (the barrier times out and the handler answers 500)."""
    barrier = threading.Barrier(5, timeout=10)

    def handler(_body: bytes) -> Reply:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return Reply(500)
        return Reply(200)

    served.handler = handler
    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = list(pool.map(lambda _i: request(served.sock), range(5)))
    assert codes == [200] * 5
    assert served.workers() >= 5


def test_idle_workers_beyond_the_bound_exit(served: Served, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setattr(served.server.workers, "_max_idle", 2)
    barrier = threading.Barrier(6, timeout=10)
    served.handler = lambda _body: Reply(200 if barrier.wait() >= 0 else 500)
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(lambda _i: request(served.sock), range(6))) == [200] * 6
    _wait_until(lambda: served.workers() == 2)
    served.handler = lambda _body: Reply(200)
    for _ in range(10):  # the two kept workers go on serving
        assert request(served.sock) == 200
    assert served.workers() == 2


def test_connection_limit_bounds_what_is_served(tmp_path: Path) -> None:
    s = Served(tmp_path, connection_limit=2)
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def handler(_body: bytes) -> Reply:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return Reply(200)

    s.handler = handler
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert list(pool.map(lambda _i: request(s.sock), range(6))) == [200] * 6
    finally:
        s.server.stop()
    assert running[1] == 2


def test_stop_waits_for_the_connection_being_served(served: Served) -> None:
    started = threading.Event()
    finished: list[float] = []

    def handler(_body: bytes) -> Reply:
        started.set()
        time.sleep(0.5)
        finished.append(time.monotonic())
        return Reply(200)

    served.handler = handler
    with ThreadPoolExecutor(max_workers=1) as pool:
        reply = pool.submit(request, served.sock)
        assert started.wait(10)
        served.server.stop()
        stopped = time.monotonic()
        assert reply.result() == 200
    assert finished
    assert finished[0] <= stopped
    assert served.workers() == 0
    assert not served.sock.exists()
