"""HTTP/1.1 over the unix socket ``<socketDir>/multus.sock`` (THK-07, HEAD-05).

Routes and answers match upstream's Go server, so its ``multus-shim`` works against us:

* ``POST /cni`` and ``POST /delegate``: a CNI request (``daemon.wire``); another method is
  405 ``Method not allowed``;
* ``GET|POST /healthz``: 200 while the server runs; ``GET|POST /readyz``: 200, or 500 once
  shutdown has begun; another method is 405;
* anything else: 404, empty body.

Keep-alives are off (every answer closes the connection). Each connection is served on a
thread of its own, taken from a set of kept workers (a new one is started only when none is
idle; starting a thread per connection cost ~0.1 ms of CPU, and a shim opens two per CNI
call); ``connectionLimit`` bounds the connections being served (excess ones wait in the
accept backlog), and the service bounds concurrent CNI executions separately.

The socket is created 0600 inside a directory created 0700. An existing directory is
never removed (upstream wipes it, BUG-13); only a stale socket file is replaced.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import socketserver
import stat
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from multusctl.daemon.service import TEXT, Reply
from multusctl.errors import MultusError

if TYPE_CHECKING:
    from multusctl.daemon.metrics import Metrics

MAX_BODY = 16 << 20
BACKLOG = 256
#: Idle connection workers kept for the next connections; more exit after their request.
MAX_IDLE_WORKERS = 16

Handler = Callable[[bytes], Reply]


class SocketError(MultusError):
    """The socket could not be prepared or bound (exit status 3 at start-up)."""


def prepare_socket_path(path: str) -> None:
    """Create the socket's directory (0700) if needed; remove a *stale* socket file.

    A socket another process still answers on is an error (two daemons on one node);
    a path that is not a socket is never touched.
    """
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SocketError(f"failed to create the socket directory {directory}: {exc}") from None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SocketError(f"failed to inspect {path}: {exc}") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise SocketError(f"failed to listen on pod info socket: {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a leftover of a previous daemon
        return
    finally:
        probe.close()
    raise SocketError(f"failed to listen on pod info socket: {path} is in use by another daemon")


class _Workers:
    """Threads that serve connections one after another.

    A connection goes to an idle worker, or to a new one when none is idle, so as many
    connections are served at once as before (one thread each), without starting a thread
    for every connection. At most ``max_idle`` workers wait for work; others exit.
    """

    def __init__(self, serve: Callable[[Any, Any], None], max_idle: int) -> None:
        self._serve = serve
        self._max_idle = max_idle
        self._queue: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: set[threading.Thread] = set()

    def submit(self, request: Any, client_address: Any) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1  # an idle worker's next get() is this connection
        if start:
            worker = threading.Thread(target=self._run, name="multus-conn", daemon=True)
            with self._lock:
                self._threads.add(worker)
            try:
                worker.start()
            except BaseException:
                with self._lock:
                    self._threads.discard(worker)
                raise
        self._queue.put((request, client_address))

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._serve(*item)
                with self._lock:
                    if self._idle >= self._max_idle:
                        return
                    self._idle += 1
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def close(self) -> None:
        """Let every worker finish the connection it serves, then end them all."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join()

    def __len__(self) -> int:
        with self._lock:
            return len(self._threads)


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A threading HTTP server on a unix socket, with a connection bound and readiness."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = BACKLOG
    allow_reuse_address = False

    def __init__(
        self,
        path: str,
        *,
        cni: Handler,
        delegate: Handler,
        metrics: Metrics | None = None,
        connection_limit: int | None = None,
        log_debug: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.path = path
        self.cni = cni
        self.delegate = delegate
        self.metrics = metrics
        self.log_debug = log_debug
        self.ready = threading.Event()
        self.workers = _Workers(self.process_request_thread, MAX_IDLE_WORKERS)
        self._conn_slots = (
            threading.BoundedSemaphore(connection_limit) if connection_limit else None
        )
        old = os.umask(0o177)
        try:
            super().__init__(path, _RequestHandler)
        except OSError as exc:
            raise SocketError(f"failed to listen on pod info socket: {exc}") from None
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self._inode = os.stat(path).st_ino

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._conn_slots is not None:
            self._conn_slots.acquire()  # blocks accepting: excess clients wait in the backlog
        try:
            self.workers.submit(request, client_address)
        except Exception:
            if self._conn_slots is not None:
                self._conn_slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            if self._conn_slots is not None:
                self._conn_slots.release()

    def server_close(self) -> None:
        """Close the listener; wait for the connections being served (``block_on_close``)."""
        super().server_close()
        self.workers.close()

    def stop(self) -> None:
        """Stop accepting, wait for in-flight requests, remove our socket file."""
        self.ready.clear()
        self.shutdown()
        self.server_close()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: UnixHTTPServer

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        self.server.log_debug("multus socket: " + (format % args))

    def _send(self, status: int, body: bytes = b"", content_type: str = TEXT) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        method = self.command
        path = self.path.split("?", 1)[0]
        handler_label = path if path in ("/cni", "/delegate", "/healthz", "/readyz") else (
            "NotFound"
        )
        status = self._route(method, path)
        if self.server.metrics is not None:
            self.server.metrics.observe_request(handler_label, status, method)

    def _route(self, method: str, path: str) -> int:
        if path == "/healthz":
            status = 200 if method in ("GET", "POST") else 405
            self._send(status)
            return status
        if path == "/readyz":
            if method not in ("GET", "POST"):
                self._send(405)
                return 405
            status = 200 if self.server.ready.is_set() else 500
            self._send(status)
            return status
        if path in ("/cni", "/delegate"):
            if method != "POST":
                self._send(405, b"Method not allowed\n")
                return 405
            body = self._body()
            if body is None:
                self._send(413, b"request body too large or without a length\n")
                return 413
            handler = self.server.cni if path == "/cni" else self.server.delegate
            reply = handler(body)
            self._send(reply.status, reply.body, reply.content_type)
            return reply.status
        self._send(404)
        return 404

    # http.server looks handlers up as do_<METHOD>.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815
