"""The thick daemon's config file (``daemon-config.json``), parsed once at start-up.

Upstream reads the same JSON file three ways (THK-02/03/10): as server keys, as the
generation keys of ``00-multus.conf``, and raw, as an override of every request's Multus
config. :class:`DaemonConfig` holds the first two as typed values; ``raw`` keeps the third.

Pure: bytes in, values out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multusctl.errors import InvalidConfig, MultusError

DEFAULT_PATH = "/etc/cni/net.d/multus.d/daemon-config.json"
DEFAULT_SOCKET_DIR = "/run/multus/"
DEFAULT_CNI_CONFIG_DIR = "/etc/cni/net.d"
SOCKET_NAME = "multus.sock"
AUTO = "auto"
#: multusctl's cap on CNI requests executed at once (excess requests queue, never fail).
DEFAULT_MAX_CONCURRENT = 16
#: HEAD-05: seconds ``/readyz`` answers 500 before the server stops after SIGTERM.
DEFAULT_SHUTDOWN_DELAY = 10.0
#: Upper bound of cached NetworkAttachmentDefinitions (pods are bounded by the node).
DEFAULT_NAD_CACHE_MAX = 10000
DEFAULT_POD_CACHE_MAX = 2000


class DaemonConfigError(InvalidConfig):
    """The daemon config file is unusable (exit status 1 at start-up)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonConfig:
    """Every key of the daemon config that the daemon itself interprets."""

    # ---- server keys (THK-02, HEAD-14)
    chroot_dir: str = ""
    """``chrootDir``: delegates are executed chrooted here (THK-17). Default: no chroot."""
    socket_dir: str = DEFAULT_SOCKET_DIR
    """``socketDir``: the directory of ``multus.sock``. Default: ``/run/multus/``."""
    metrics_port: int | None = None
    """``metricsPort``: Prometheus ``/metrics`` on this TCP port. Default: no metrics."""
    log_file: str = ""
    log_level: str = ""
    log_to_stderr: bool = False
    """``logToStderr``: the daemon's default is false (THK-02)."""
    connection_limit: int | None = None
    """``connectionLimit``: concurrent socket connections (> 0). Default: unlimited."""
    per_node_certificate: bool = False
    """``perNodeCertificate.enabled`` (not supported; refused at start-up)."""

    # ---- 00-multus.conf generation keys (THK-03)
    cni_version: str = ""
    cni_config_dir: str = DEFAULT_CNI_CONFIG_DIR
    """``cniConfigDir``: where ``00-multus.conf`` is written. Default: ``/etc/cni/net.d``."""
    multus_config_file: str = AUTO
    """``multusConfigFile``: ``auto`` (generate) or a config file to copy."""
    multus_autoconfig_dir: str = ""
    """``multusAutoconfigDir``: where the primary CNI config is looked for.
    Default: ``cniConfigDir``."""
    multus_master_cni: str = ""
    """``multusMasterCNI``: the primary CNI config (file name or path). Default: first."""
    readiness_indicator_file: str = ""
    force_cni_version: bool = False
    override_network_name: bool = False
    namespace_isolation: bool = False
    global_namespaces: str = ""
    bin_dir: str = ""
    cni_dir: str = ""
    daemon_socket_dir: str = ""
    """``daemonSocketDir``: written into ``00-multus.conf`` (auto mode), where the shim
    looks for ``multus.sock``; set it with a ``socketDir`` the shim would not find at its
    own default ``/run/multus/``. Default: not written."""
    kubeconfig: str = ""
    """``kubeconfig``: the daemon's own API credentials. Default: in-cluster."""

    # ---- multusctl extensions
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT
    """``maxConcurrentRequests``: CNI requests executed at once; others wait."""
    shutdown_delay: float = DEFAULT_SHUTDOWN_DELAY
    """``shutdownDelaySeconds``: not-ready phase after SIGTERM (HEAD-05)."""
    cleanup_config_on_exit: bool = False
    """``cleanupConfigOnExit``: remove ``00-multus.conf`` on shutdown (upstream always
    does, BUG-11; we keep it across restarts unless asked)."""
    pod_cache_max: int = DEFAULT_POD_CACHE_MAX
    nad_cache_max: int = DEFAULT_NAD_CACHE_MAX
    async_events: bool = True
    """``asyncEvents``: post Kubernetes events from a background thread (ADD returns
    without waiting for them). Default: true."""

    raw: Mapping[str, Any] = field(default_factory=dict)
    """The whole file: the per-request override (THK-10)."""

    @property
    def socket_path(self) -> str:
        return os.path.join(self.socket_dir, SOCKET_NAME)

    @property
    def auto(self) -> bool:
        return self.multus_config_file == AUTO

    @property
    def autoconfig_dir(self) -> str:
        return self.multus_autoconfig_dir or self.cni_config_dir


_STRINGS = {
    "chrootDir": "chroot_dir",
    "socketDir": "socket_dir",
    "logFile": "log_file",
    "logLevel": "log_level",
    "cniVersion": "cni_version",
    "cniConfigDir": "cni_config_dir",
    "multusConfigFile": "multus_config_file",
    "multusAutoconfigDir": "multus_autoconfig_dir",
    "multusMasterCNI": "multus_master_cni",
    "readinessindicatorfile": "readiness_indicator_file",
    "globalNamespaces": "global_namespaces",
    "binDir": "bin_dir",
    "cniDir": "cni_dir",
    "daemonSocketDir": "daemon_socket_dir",
    "kubeconfig": "kubeconfig",
}
_BOOLS = {
    "logToStderr": "log_to_stderr",
    "forceCNIVersion": "force_cni_version",
    "overrideNetworkName": "override_network_name",
    "namespaceIsolation": "namespace_isolation",
    "cleanupConfigOnExit": "cleanup_config_on_exit",
    "asyncEvents": "async_events",
}
_INTS = {
    "metricsPort": "metrics_port",
    "connectionLimit": "connection_limit",
    "maxConcurrentRequests": "max_concurrent_requests",
    "podCacheMax": "pod_cache_max",
    "nadCacheMax": "nad_cache_max",
}


def _typed(data: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DaemonConfigError(
            f"failed to unmarshall the daemon configuration: {key}: expected {what}, "
            f"got {json.dumps(value)}"
        )
    return value


def load(data: bytes) -> DaemonConfig:
    """Parse the daemon config file's bytes (unknown keys are ignored, as upstream)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DaemonConfigError(f"failed to unmarshall the daemon configuration: {exc}") from None
    if not isinstance(doc, dict):
        raise DaemonConfigError(
            "failed to unmarshall the daemon configuration: expected a JSON object"
        )
    values: dict[str, Any] = {"raw": doc}
    for key, attr in _STRINGS.items():
        if doc.get(key) is not None:
            values[attr] = _typed(doc, key, str, "a string")
    for key, attr in _BOOLS.items():
        if doc.get(key) is not None:
            values[attr] = _typed(doc, key, bool, "a boolean")
    for key, attr in _INTS.items():
        if doc.get(key) is not None:
            values[attr] = _typed(doc, key, int, "an integer")
    if doc.get("shutdownDelaySeconds") is not None:
        delay = doc["shutdownDelaySeconds"]
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise DaemonConfigError(
                "failed to unmarshall the daemon configuration: shutdownDelaySeconds: "
                "expected a number of seconds >= 0"
            )
        values["shutdown_delay"] = float(delay)
    cert = doc.get("perNodeCertificate")
    if isinstance(cert, dict) and cert.get("enabled") is True:
        values["per_node_certificate"] = True
    if not values.get("socket_dir", DEFAULT_SOCKET_DIR):
        values["socket_dir"] = DEFAULT_SOCKET_DIR
    return DaemonConfig(**values)


def validate(conf: DaemonConfig) -> None:
    """Start-up checks that make the daemon exit with status 3 (HEAD-14, THK-15)."""
    if conf.connection_limit is not None and conf.connection_limit <= 0:
        raise MultusError(
            f"connection limit must be greater than 0, got {conf.connection_limit}"
        )
    if conf.max_concurrent_requests <= 0:
        raise MultusError(
            "maxConcurrentRequests must be greater than 0, got "
            f"{conf.max_concurrent_requests}"
        )
    if conf.per_node_certificate:
        raise MultusError(
            "perNodeCertificate is not supported by multusctl; use the service account "
            "(in-cluster) or a kubeconfig"
        )


def override(request_config: bytes, conf: DaemonConfig) -> bytes:
    """THK-10: every top-level key of the daemon config wins over the request's.

    In auto mode the readiness indicator is the config manager's business, so that key is
    not copied (as upstream). Returns the merged config as JSON bytes.
    """
    try:
        request = json.loads(request_config)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DaemonConfigError(f"failed to unmarshall CNI config: {exc}") from None
    if not isinstance(request, dict):
        raise DaemonConfigError("failed to unmarshall CNI config: expected a JSON object")
    merged = dict(request)
    for key, value in conf.raw.items():
        if key == "readinessindicatorfile" and conf.auto:
            continue
        merged[key] = value
    return json.dumps(merged).encode()
