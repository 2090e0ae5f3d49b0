"""List + watch over the small REST client (stdlib), for the thick daemon's warm caches.

A :class:`Reflector` keeps a store in step with the API server the way client-go's
reflector does: LIST (paginated) to get a consistent snapshot and its resourceVersion,
then WATCH from there; a watch that ends is resumed from the last version seen; a
``410 Gone`` (or any error) starts over with a fresh LIST after a back-off. Objects are
passed through ``trim`` before they are stored, so the store holds only what is used.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from multusctl.errors import KubeError, KubeUnavailable
from multusctl.kube import rest

#: Server-side watch timeout; the watch is then resumed from the last resourceVersion.
WATCH_TIMEOUT_SECONDS = 300
LIST_PAGE_SIZE = 500
BACKOFF_START = 0.5
BACKOFF_MAX = 30.0


class Store(Protocol):
    """What a reflector feeds."""

    def replace(self, objects: list[dict[str, Any]]) -> None: ...

    def upsert(self, obj: dict[str, Any]) -> None: ...

    def delete(self, obj: dict[str, Any]) -> None: ...


class StreamClient(rest.Client):
    """``rest.Client`` plus a streaming GET (one per reflector: not shared)."""

    def abort(self) -> None:
        """Break a read blocked in another thread (close() alone does not wake it)."""
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def lines(self, path: str, *, timeout: float) -> Iterator[bytes]:
        """GET ``path`` and yield the body line by line (a watch stream)."""
        headers = {"Accept": "application/json", "User-Agent": rest.USER_AGENT}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.requests.append(("WATCH", path))
        conn = self._connection(timeout)
        try:
            conn.request("GET", self._prefix + path, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise KubeUnavailable(f"WATCH {path}: {exc}") from None
        if resp.status != 200:
            data = resp.read()
            self.close()
            try:
                message = str(json.loads(data).get("message", ""))
            except (ValueError, AttributeError):
                message = data.decode(errors="replace")[:200]
            raise KubeError(f"WATCH {path}: HTTP {resp.status}: {message}", status=resp.status)
        try:
            while True:
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield line
        except (OSError, http.client.HTTPException) as exc:
            raise KubeUnavailable(f"WATCH {path}: {exc}") from None
        finally:
            self.close()


class Reflector:
    """Keeps ``store`` equal to the server's view of ``path`` (a collection URL)."""

    def __init__(
        self,
        client: StreamClient,
        path: str,
        store: Store,
        *,
        params: Mapping[str, str] | None = None,
        trim: Callable[[dict[str, Any]], dict[str, Any]] = lambda o: o,
        on_error: Callable[[str], None] = lambda _m: None,
        stop: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.store = store
        self.params = dict(params or {})
        self.trim = trim
        self.on_error = on_error
        self.stop = stop or threading.Event()
        self.synced = threading.Event()
        self.resource_version = ""
        self.relists = 0
        self.requests_made = 0

    def _url(self, **extra: str) -> str:
        query = {**self.params, **extra}
        return f"{self.path}?{urllib.parse.urlencode(query)}"

    def list_once(self) -> None:
        """One full LIST (paginated) into the store."""
        objects: list[dict[str, Any]] = []
        cont = ""
        while True:
            extra = {"limit": str(LIST_PAGE_SIZE)}
            if cont:
                extra["continue"] = cont
            page = self.client.request("GET", self._url(**extra))
            objects.extend(self.trim(item) for item in page.get("items") or [])
            meta = page.get("metadata") or {}
            cont = str(meta.get("continue") or "")
            if not cont:
                self.resource_version = str(meta.get("resourceVersion", ""))
                break
        self.store.replace(objects)
        self.relists += 1
        self.synced.set()

    def watch_once(self) -> bool:
        """Follow one watch stream. False when the server says the version is too old."""
        url = self._url(
            watch="1",
            resourceVersion=self.resource_version,
            allowWatchBookmarks="true",
            timeoutSeconds=str(WATCH_TIMEOUT_SECONDS),
        )
        for line in self.client.lines(url, timeout=WATCH_TIMEOUT_SECONDS + 30):
            if self.stop.is_set():
                return True
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    return False
                raise KubeError(f"watch error: {obj.get('message', obj)}")
            version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            if version:
                self.resource_version = version
            if kind in ("ADDED", "MODIFIED"):
                self.store.upsert(self.trim(obj))
            elif kind == "DELETED":
                self.store.delete(self.trim(obj))
        return True

    def run(self) -> None:
        """LIST, then WATCH until ``stop``; errors back off and start over."""
        backoff = BACKOFF_START
        need_list = True
        while not self.stop.is_set():
            self.requests_made += len(self.client.requests)
            self.client.requests.clear()  # the client's log would grow forever otherwise
            try:
                if need_list:
                    self.list_once()
                    need_list = False
                if not self.watch_once():
                    need_list = True
                backoff = BACKOFF_START
            except KubeError as exc:
                if self.stop.is_set():
                    break
                self.on_error(f"{self.path}: {exc}; retrying in {backoff:g}s")
                need_list = True
                self.stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    def close(self) -> None:
        """Stop the loop and break a blocked read."""
        self.stop.set()
        self.client.abort()
