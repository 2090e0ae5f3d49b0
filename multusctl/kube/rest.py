"""A small Kubernetes REST client for the CNI hot path (stdlib ``http.client`` + ``ssl``).

The thin plugin makes a handful of requests per pod sandbox: GET the pod, GET each
NetworkAttachmentDefinition, PATCH ``pods/status`` and POST events. Importing the official
``kubernetes`` client alone costs about 0.25 s on a node, on every ADD and DEL, so the
plugin uses this client instead; the CLI tools and the thick daemon use the official one.

Supported credentials are the ones Multus kubeconfigs use: bearer token (inline or
``tokenFile``), client certificates (file or inline data), CA (file or inline data) and
``insecure-skip-tls-verify``; plus the in-cluster service-account environment.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from multusctl.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeNotFound,
    KubeUnavailable,
    MultusError,
)

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_TIMEOUT = 60.0
USER_AGENT = "multusctl-cni"


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Where the API server is and how to authenticate to it."""

    server: str
    token: str = ""
    token_file: str = ""
    ca_file: str = ""
    ca_data: str = ""
    cert_file: str = ""
    cert_data: bytes = b""
    key_file: str = ""
    key_data: bytes = b""
    insecure: bool = False


def _b64(value: object) -> bytes:
    return base64.b64decode(str(value)) if value else b""


def _resolve(base: str, path: object) -> str:
    if not path:
        return ""
    text = str(path)
    return text if os.path.isabs(text) else os.path.join(base, text)


def load_kubeconfig(path: str) -> Credentials:
    """Read the current context of a kubeconfig file (YAML or JSON)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise MultusError(
            f"GetK8sClient: failed to get context for the kubeconfig {path}: {exc}"
        ) from None
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if doc is None:
        from multusctl.kube import miniyaml

        try:
            doc = miniyaml.parse(raw.decode("utf-8"))
        except UnicodeDecodeError:
            doc = None
    if doc is None:
        import yaml

        try:
            doc = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders only
        except yaml.YAMLError as exc:
            raise MultusError(
                f"GetK8sClient: failed to get context for the kubeconfig {path}: {exc}"
            ) from None
    if not isinstance(doc, dict):
        raise MultusError(
            f"GetK8sClient: failed to get context for the kubeconfig {path}: not a kubeconfig"
        )
    return credentials_from_kubeconfig(doc, base_dir=os.path.dirname(os.path.abspath(path)),
                                       source=path)


def _named(items: object, name: str, key: str) -> dict[str, Any]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("name") == name and isinstance(
                item.get(key), dict
            ):
                found: dict[str, Any] = item[key]
                return found
    return {}


def credentials_from_kubeconfig(
    doc: Mapping[str, Any], *, base_dir: str, source: str = "kubeconfig"
) -> Credentials:
    """The credentials of the current context (pure)."""
    contexts = doc.get("contexts")
    current = doc.get("current-context") or ""
    context = _named(contexts, str(current), "context") if current else {}
    if not context and isinstance(contexts, list) and len(contexts) == 1:
        only = contexts[0]
        context = only.get("context", {}) if isinstance(only, dict) else {}
    cluster = _named(doc.get("clusters"), str(context.get("cluster", "")), "cluster")
    user = _named(doc.get("users"), str(context.get("user", "")), "user")
    if not cluster and isinstance(doc.get("clusters"), list) and len(doc["clusters"]) == 1:
        cluster = doc["clusters"][0].get("cluster", {})
    server = str(cluster.get("server", ""))
    if not server:
        raise MultusError(
            f"GetK8sClient: failed to get context for the kubeconfig {source}: "
            "no server in the current context"
        )
    if "exec" in user or "auth-provider" in user:
        raise MultusError(
            f"GetK8sClient: kubeconfig {source}: exec and auth-provider credentials are not "
            "supported by the CNI plugin; use a service-account token or client certificate"
        )
    return Credentials(
        server=server.rstrip("/"),
        token=str(user.get("token", "")),
        token_file=_resolve(base_dir, user.get("tokenFile")),
        ca_file=_resolve(base_dir, cluster.get("certificate-authority")),
        ca_data=_b64(cluster.get("certificate-authority-data")).decode(),
        cert_file=_resolve(base_dir, user.get("client-certificate")),
        cert_data=_b64(user.get("client-certificate-data")),
        key_file=_resolve(base_dir, user.get("client-key")),
        key_data=_b64(user.get("client-key-data")),
        insecure=cluster.get("insecure-skip-tls-verify") is True,
    )


def in_cluster(environ: Mapping[str, str], sa_dir: str = SA_DIR) -> Credentials:
    """The pod service-account credentials (``KUBERNETES_SERVICE_HOST``/``_PORT``)."""
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise MultusError(
            "GetK8sClient: failed to get context for in-cluster kube config: "
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
            "KUBERNETES_SERVICE_PORT must be defined"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return Credentials(
        server=f"https://{host}:{port}",
        token_file=os.path.join(sa_dir, "token"),
        ca_file=os.path.join(sa_dir, "ca.crt"),
    )


def _ssl_context(creds: Credentials) -> ssl.SSLContext:
    if creds.insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif creds.ca_file or creds.ca_data:
        ctx = ssl.create_default_context(
            cafile=creds.ca_file or None, cadata=creds.ca_data or None
        )
    else:
        ctx = ssl.create_default_context()
    if creds.cert_file or creds.cert_data:
        _load_client_cert(ctx, creds)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, creds: Credentials) -> None:
    if creds.cert_file and not creds.cert_data and not creds.key_data:
        ctx.load_cert_chain(creds.cert_file, creds.key_file or None)
        return
    # ssl only loads certificates from files: spill inline data into a private temp dir.
    with tempfile.TemporaryDirectory(prefix="multus-tls-") as tmp:
        cert = creds.cert_file
        key = creds.key_file
        if creds.cert_data:
            cert = os.path.join(tmp, "tls.crt")
            with open(cert, "wb") as fh:
                fh.write(creds.cert_data)
        if creds.key_data:
            key = os.path.join(tmp, "tls.key")
            fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(creds.key_data)
        ctx.load_cert_chain(cert, key or None)


class Client:
    """A keep-alive connection to one API server. Not thread-safe; one per CNI call."""

    def __init__(self, creds: Credentials, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.creds = creds
        self.timeout = timeout
        url = urllib.parse.urlsplit(creds.server)
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if self._https else 80)
        self._prefix = url.path.rstrip("/")
        self._ctx = _ssl_context(creds) if self._https else None
        self._conn: http.client.HTTPConnection | None = None
        #: Every request made, as ``(method, path)``; used to report request counts.
        self.requests: list[tuple[str, str]] = []

    def _token(self) -> str:
        if self.creds.token_file:
            try:
                with open(self.creds.token_file, encoding="utf-8") as fh:
                    return fh.read().strip()
            except OSError as exc:
                path = self.creds.token_file
                raise KubeError(f"failed to read token file {path}: {exc}") from None
        return self.creds.token

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=self._ctx
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        self._conn.timeout = timeout
        if self._conn.sock is not None:
            self._conn.sock.settimeout(timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connect(self, timeout: float | None = None) -> None:
        """Open the keep-alive connection now (TCP, and TLS for https) without a request,
        so that the first request does not pay for it; raises ``KubeUnavailable``."""
        conn = self._connection(timeout or self.timeout)
        try:
            conn.connect()
        except OSError as exc:
            self.close()
            raise KubeUnavailable(f"connect {self.creds.server}: {exc}") from None

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send one request; return the decoded JSON body or raise a ``KubeError``."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        self.requests.append((method, path))
        for attempt in range(2):
            conn = self._connection(timeout or self.timeout)
            try:
                conn.request(method, self._prefix + path, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except TimeoutError as exc:
                self.close()
                raise KubeUnavailable(f"{method} {path}: timed out: {exc}") from None
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt == 0 and isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                ):
                    continue  # a kept-alive connection the server closed: reconnect once
                raise KubeUnavailable(f"{method} {path}: {exc}") from None
            return _decode(method, path, resp.status, data)
        raise KubeUnavailable(f"{method} {path}: connection closed")  # pragma: no cover


def _decode(method: str, path: str, status: int, data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data) if data else {}
    except ValueError:
        doc = {"message": data.decode(errors="replace")[:200]}
    if not isinstance(doc, dict):
        doc = {}
    if 200 <= status < 300:
        return doc
    message = str(doc.get("message") or f"{method} {path}: HTTP {status}")
    cls: type[KubeError]
    if status == 404:
        cls = KubeNotFound
    elif status == 403:
        cls = KubeForbidden
    elif status == 409:
        cls = KubeConflict
    elif status in (429, 500, 502, 503, 504):
        return _raise_unavailable(message, status)
    else:
        cls = KubeError
    raise cls(message, status=status)


def _raise_unavailable(message: str, status: int) -> dict[str, Any]:
    err = KubeUnavailable(message)
    err.details = f"HTTP {status}"
    raise err


def connect(kubeconfig: str, environ: Mapping[str, str]) -> Client | None:
    """CFG-10: a kubeconfig path wins, then the in-cluster env; otherwise no Kubernetes."""
    if kubeconfig:
        return Client(load_kubeconfig(kubeconfig))
    if environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT"):
        return Client(in_cluster(environ))
    return None


def quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")

