"""Render the kubeconfig the Multus plugin uses on the node (pure, stdlib only).

The shape is upstream's entrypoint template (ENT3-07 / ENT4-04): one cluster ``local``,
one user ``multus`` with a bearer token, one context ``multus-context``. The YAML is
written by hand so the output is deterministic and needs no YAML library; every value
that could need quoting is a JSON string, which YAML reads as a double-quoted scalar.

The server URL follows upstream HEAD (``net.JoinHostPort``): IPv6 hosts get brackets,
IPv4 addresses and host names do not (v4.2.1 always bracketed them, BUG-05).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from multusctl.errors import InvalidConfig, InvalidEnvironment

_PLAIN_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.\-\[\]:%_]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class KubeconfigInputs:
    """What the kubeconfig is made of. Exactly one of ``token`` / ``token_file`` is used."""

    host: str
    """API server host (``KUBERNETES_SERVICE_HOST``): IPv4, IPv6 or a DNS name."""
    port: str
    """API server port (``KUBERNETES_SERVICE_PORT``), decimal."""
    protocol: str = "https"
    """URL scheme (``KUBERNETES_SERVICE_PROTOCOL``). Default: ``https``."""
    skip_tls_verify: bool = False
    """Write ``insecure-skip-tls-verify: true`` instead of any CA. Default: false."""
    ca_data: bytes | None = None
    """CA bundle to embed as ``certificate-authority-data`` (base64). Default: none."""
    ca_file: str = ""
    """CA bundle path to reference as ``certificate-authority`` (used when ``ca_data`` is
    None). Default: unset (system trust store)."""
    token: str = ""
    """Bearer token to embed (surrounding whitespace is dropped). Default: unset."""
    token_file: str = ""
    """Token file path to reference as ``tokenFile`` (used when ``token`` is empty); the
    client re-reads it, so rotation needs no rewrite. Default: unset."""


def server_url(protocol: str, host: str, port: str) -> str:
    """``<protocol>://<host>:<port>`` with brackets around IPv6 hosts only."""
    if not host:
        raise InvalidEnvironment("KUBERNETES_SERVICE_HOST not set")
    if not port:
        raise InvalidEnvironment("KUBERNETES_SERVICE_PORT not set")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidEnvironment(f"KUBERNETES_SERVICE_PORT is not a port number: {port!r}")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    shown = f"[{bare}]" if ":" in bare else bare
    return f"{protocol or 'https'}://{shown}:{port}"


def render_kubeconfig(inputs: KubeconfigInputs) -> str:
    """The kubeconfig text (YAML), ending with a newline."""
    server = server_url(inputs.protocol, inputs.host, inputs.port)
    server_text = server if _PLAIN_URL.match(server) else _quote(server)

    if inputs.skip_tls_verify:
        tls = "insecure-skip-tls-verify: true"
    elif inputs.ca_data is not None:
        tls = "certificate-authority-data: " + base64.b64encode(inputs.ca_data).decode("ascii")
    elif inputs.ca_file:
        tls = f"certificate-authority: {_quote(inputs.ca_file)}"
    else:
        tls = ""

    token = inputs.token.strip()
    if token:
        credential = f"token: {_quote(token)}"
    elif inputs.token_file:
        credential = f"tokenFile: {_quote(inputs.token_file)}"
    else:
        raise InvalidConfig("a kubeconfig needs a service account token or a token file")

    lines = [
        "# Kubeconfig file for Multus CNI plugin.",
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: local",
        "  cluster:",
        f"    server: {server_text}",
    ]
    if tls:
        lines.append(f"    {tls}")
    lines += [
        "users:",
        "- name: multus",
        "  user:",
        f"    {credential}",
        "contexts:",
        "- name: multus-context",
        "  context:",
        "    cluster: local",
        "    user: multus",
        "current-context: multus-context",
    ]
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return json.dumps(value)
