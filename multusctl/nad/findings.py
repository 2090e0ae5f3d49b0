"""Value types of NAD validation: findings, per-object reports, IPAM ranges (stdlib only)."""

from __future__ import annotations

import dataclasses
import json
from typing import Literal

from multusctl.nad.addr import fmt

Severity = Literal["error", "warning"]

ERROR: Severity = "error"
WARNING: Severity = "warning"

#: Every check id a :class:`Finding` can carry, with what it covers (docs and tests use it).
CHECKS: dict[str, str] = {
    "object": "the document is an object; metadata and annotations have the right shapes",
    "api-version": "apiVersion is k8s.cni.cncf.io/v1",
    "kind": "kind is NetworkAttachmentDefinition",
    "name": "metadata.name is present and a DNS-1123 label of at most 63 characters",
    "namespace": "metadata.namespace, when set, is a DNS-1123 label",
    "resource-name": "the k8s.v1.cni.cncf.io/resourceName annotation is <vendor domain>/<resource>",
    "spec": "spec is an object holding only config, and config is a string",
    "empty-spec": "an empty spec means the node needs a file in confDir with that name",
    "json": "spec.config is a JSON object",
    "conf-shape": "a plugin config (non-empty type) or a list (non-empty plugins, each typed)",
    "type": "type is a non-empty string without path separators",
    "cni-version": "cniVersion (and cniVersions) are known CNI versions",
    "version-conflict": "plugins in a list do not carry a cniVersion different from the list's",
    "name-mismatch": "the CNI name matches metadata.name and uses allowed characters",
    "capabilities": "capabilities map names to booleans",
    "ipam": "the ipam section has the shape its type needs",
    "ipam-range": "subnets, range starts/ends and gateways are consistent",
    "ipam-overlap": "ranges do not overlap inside one NAD (error) or across NADs (warning)",
    "ip": "IP address fields parse",
    "cidr": "CIDR fields parse",
    "route": "routes have a dst CIDR (no host bits) and a gw of the same family",
    "master": "macvlan, ipvlan and vlan name their host interface",
    "mode": "macvlan and ipvlan modes are known",
    "vlan": "VLAN ids are integers 0-4094",
    "mtu": "mtu, when set, is an integer 68-65535 (0 means default)",
    "ifname": "interface names (master, bridge) fit Linux rules (at most 15 characters)",
    "device": "device plugins (sriov) get a device through resourceName",
    "binary": "with bin dirs: every plugin and IPAM type is an executable there",
}

#: Keys met on every NAD, known to need no quoting in a path (skips the character test).
_PLAIN_KEYS = frozenset({
    "type", "ipam", "subnet", "ranges", "rangeStart", "rangeEnd", "gateway", "routes", "dst",
    "gw", "addresses", "address", "range", "range_start", "range_end", "exclude", "plugins",
    "cniVersion", "name", "capabilities", "master", "mode", "mtu", "vlan", "vlanId", "bridge",
})

#: Longest value shown inside a message.
QUOTE_MAX = 80


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in one object.

    ``path`` is a JSON path relative to the object (``spec.config.ipam.subnet``); inside
    ``spec.config`` it continues into the parsed JSON. For :func:`validate_config` it is
    relative to the config itself and ``""`` means the config as a whole.
    """

    severity: Severity
    #: ``file:doc#`` for files, ``ns/name`` for cluster objects (whatever the caller passed).
    object: str
    path: str
    #: A stable short identifier of the check (``cni-version``, ``ipam-range``, …).
    check: str
    #: One line: what is wrong, then how to fix it.
    message: str

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "object": self.object,
            "path": self.path,
            "check": self.check,
            "message": self.message,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class IpRange:
    """An address pool declared by an IPAM section, kept for the overlap checks."""

    object: str
    path: str
    version: int
    first: int
    last: int

    @property
    def text(self) -> str:
        return f"{fmt(self.version, self.first)}-{fmt(self.version, self.last)}"


@dataclasses.dataclass(frozen=True, slots=True)
class NadReport:
    """Everything :func:`multusctl.nad.validate.validate_nad` learned about one object."""

    source: str
    namespace: str | None
    name: str | None
    findings: tuple[Finding, ...]
    ranges: tuple[IpRange, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == WARNING)

    @property
    def valid(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(f.severity == ERROR for f in self.findings)

    def with_findings(self, extra: tuple[Finding, ...]) -> NadReport:
        return dataclasses.replace(self, findings=self.findings + extra)


def join(path: str, key: str | int) -> str:
    """Extend a JSON path: ``join("spec", "config")``, ``join("plugins", 0)``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key not in _PLAIN_KEYS and not (key.isascii() and key.replace("-", "_").isidentifier()):
        return f"{path}[{json.dumps(key, ensure_ascii=False)}]"
    return f"{path}.{key}" if path else key


class Collector:
    """Accumulates findings for one object; passed down through the checks."""

    __slots__ = ("findings", "label", "ranges")

    def __init__(self, label: str) -> None:
        self.label = label
        self.findings: list[Finding] = []
        self.ranges: list[IpRange] = []

    def error(self, check: str, path: str, message: str) -> None:
        self.findings.append(Finding(ERROR, self.label, path, check, message))

    def warning(self, check: str, path: str, message: str) -> None:
        self.findings.append(Finding(WARNING, self.label, path, check, message))

    def add(self, severity: Severity, check: str, path: str, message: str) -> None:
        self.findings.append(Finding(severity, self.label, path, check, message))


def quote(value: object) -> str:
    """Show a value in a message the way it appears in JSON (``"eth0"``, ``5``, ``null``)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):  # circular (YAML anchors) or too deep
        text = f"<{type(value).__name__}>"
    return text if len(text) <= QUOTE_MAX else text[: QUOTE_MAX - 1] + "…"
