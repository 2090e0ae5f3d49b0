"""What the daemon does at start-up so that its first pods cost what later pods cost.

* ``ApiPool.prime`` opens keep-alive API connections ahead of use (``rest.Client.connect``):
  checked against a real HTTP server on loopback that counts the connections it accepts;
  a failure to connect is not an error (the first requests then connect, as before).
* ``lifecycle.preload_request_path`` imports, at start-up, every module the plugin core
  imports on first use: checked against the core's own sources, so that a new lazy import
  on the request path is either listed or flagged here.
"""

from __future__ import annotations

import ast
import http.server
import importlib.util
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from multusctl.daemon import informers, lifecycle
from multusctl.kube import rest

pytestmark = pytest.mark.integration

PLUGIN = Path(lifecycle.__file__).resolve().parents[1] / "plugin"


class _Counting(http.server.ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0

    def get_request(self) -> tuple[socket.socket, object]:
        conn = super().get_request()
        self.accepted += 1
        return conn


class _Version(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API server

    def do_GET(self) -> None:
        body = json.dumps({"gitVersion": "v1.0.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def api() -> Iterator[_Counting]:
    server = _Counting(("127.0.0.1", 0), _Version)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _pool(server: str, size: int = 4) -> informers.ApiPool:
    return informers.ApiPool(lambda: rest.Client(rest.Credentials(server=server)), size=size)


def _two_requests_at_once(pool: informers.ApiPool) -> None:
    with pool.kube() as first, pool.kube() as second:  # e.g. a PATCH and an event POST
        assert first.client.request("GET", "/version")["gitVersion"] == "v1.0.0"
        assert second.client.request("GET", "/version")["gitVersion"] == "v1.0.0"


def test_primed_connections_serve_the_first_requests(api: _Counting) -> None:
    pool = _pool(f"http://127.0.0.1:{api.server_address[1]}")
    try:
        assert pool.prime(2, timeout=2.0) == 2
        _two_requests_at_once(pool)
    finally:
        pool.close()
    assert api.accepted == 2  # both requests went over the primed connections
    assert pool.requests == 2


def test_without_priming_the_requests_connect(api: _Counting) -> None:
    pool = _pool(f"http://127.0.0.1:{api.server_address[1]}")
    try:
        _two_requests_at_once(pool)
        _two_requests_at_once(pool)  # now kept alive
    finally:
        pool.close()
    assert api.accepted == 2


def test_priming_never_exceeds_the_idle_bound(api: _Counting) -> None:
    pool = _pool(f"http://127.0.0.1:{api.server_address[1]}", size=1)
    try:
        assert pool.prime(2, timeout=2.0) == 1
        assert pool.prime(1, timeout=2.0) == 0
        with pool.kube() as only:
            assert only.client.request("GET", "/version")["gitVersion"] == "v1.0.0"
    finally:
        pool.close()
    assert api.accepted == 1


def test_priming_an_unreachable_server_is_not_an_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    pool = _pool(f"http://127.0.0.1:{port}")
    try:
        assert pool.prime(2, timeout=1.0) == 0
    finally:
        pool.close()


def _lazy_imports(path: Path) -> set[str]:
    """Modules a file imports inside functions (outside ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # ``from pkg import mod`` names a module
                    full = f"{node.module}.{alias.name}"
                    found.add(full if _is_module(full) else node.module)
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # ``from module import name``: the parent is no package
        return False


#: Lazy imports of the request path that the daemon deliberately leaves lazy.
STAYS_LAZY = {"subprocess", "time", "multusctl.fsutil"}  # already loaded by the daemon


def test_preload_covers_every_lazy_import_of_the_plugin_core() -> None:
    lazy: set[str] = set()
    for name in ("commands.py", "k8s.py", "netns.py", "status.py", "selection.py",
                 "devinfo.py", "delegates.py", "netconf.py", "cache.py"):
        lazy |= _lazy_imports(PLUGIN / name)
    missing = lazy - set(lifecycle.REQUEST_PATH_MODULES) - STAYS_LAZY
    assert missing == set()


def test_preload_imports_them_all_and_leaves_grpc_out() -> None:
    script = (
        "import sys\n"
        "from multusctl.daemon import lifecycle\n"
        "before = set(sys.modules)\n"
        "lifecycle.preload_request_path()\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    loaded = set(ast.literal_eval(out.strip()))
    assert set(lifecycle.REQUEST_PATH_MODULES) - {"ctypes", "ipaddress"} <= loaded
    assert not any(m == "grpc" or m.startswith("grpc.") for m in loaded)
