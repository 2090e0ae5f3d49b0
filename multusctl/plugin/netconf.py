"""The Multus configuration (the JSON the runtime passes on stdin), parsed at the edge.

What multusctl interprets becomes a frozen dataclass with upstream's defaults. What it
only forwards (delegate configs, ``runtimeConfig``, ``prevResult``) stays raw.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multusctl.cni import version as cniversion
from multusctl.errors import DecodeError, IncompatibleVersion, InvalidConfig

DEFAULT_BIN_DIR = "/opt/cni/bin"
DEFAULT_CONF_DIR = "/etc/cni/multus/net.d"
DEFAULT_CNI_DIR = "/var/lib/cni/multus"
DEFAULT_MULTUS_NAMESPACE = "kube-system"
DEFAULT_SYSTEM_NAMESPACES = ("kube-system",)
DEFAULT_GLOBAL_NAMESPACES = ("default",)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogOptions:
    """Log-file rotation (``logOptions``)."""

    max_age: int | None = None
    """Days to keep rotated files (default 5)."""
    max_size: int | None = None
    """Megabytes before the file is rotated (default 100)."""
    max_backups: int | None = None
    """Rotated files to keep (default 5)."""
    compress: bool | None = None
    """Gzip rotated files (default true)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetConf:
    """A Multus config. Attribute names follow the JSON keys (in snake case)."""

    name: str
    """The network name (required by the CNI skel)."""
    cni_version: str = ""
    """The Multus config's own ``cniVersion``."""
    delegates: tuple[bytes, ...] = ()
    """Static delegate configs, raw JSON each (ignored when ``clusterNetwork`` is set)."""
    cluster_network: str = ""
    """The cluster network: NAD name, CNI config name, directory or file path."""
    default_networks: tuple[str, ...] = ()
    """Networks every pod outside ``systemNamespaces`` gets after the cluster network."""
    conf_dir: str = DEFAULT_CONF_DIR
    """Directory searched for CNI files by name (empty-spec NADs, clusterNetwork names)."""
    cni_dir: str = DEFAULT_CNI_DIR
    """Scratch cache of delegates per container, and libcni's result cache."""
    bin_dir: str = DEFAULT_BIN_DIR
    """Searched before ``CNI_PATH`` for delegate plugins."""
    kubeconfig: str = ""
    """Kubeconfig path; empty means in-cluster env or no Kubernetes at all."""
    log_file: str = ""
    log_level: str = ""
    log_to_stderr: bool = True
    log_options: LogOptions = field(default_factory=LogOptions)
    readiness_indicator_file: str = ""
    """ADD waits (1 s polls, 45 s) for this file; empty disables the wait."""
    system_namespaces: tuple[str, ...] = DEFAULT_SYSTEM_NAMESPACES
    multus_namespace: str = DEFAULT_MULTUS_NAMESPACE
    namespace_isolation: bool = False
    global_namespaces: tuple[str, ...] = DEFAULT_GLOBAL_NAMESPACES
    """Namespaces any pod may reference with namespace isolation on (``default`` implied)."""
    retry_delete_on_error: bool = False
    """Keep the scratch cache when a DEL fails, so the runtime's retry can finish it."""
    auxiliary_cni_chain_name: str = ""
    strict_capabilities: bool = False
    """multusctl extension: fail when a requested capability is declared by no plugin."""
    delegate_timeout: float = 120.0
    """multusctl extension: seconds a single delegate call may take (0 = no limit)."""
    runtime_config: Mapping[str, Any] = field(default_factory=dict)
    """The runtime's ``runtimeConfig`` (e.g. kubelet's portMappings), forwarded raw."""
    prev_result: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The whole config as received."""

    @property
    def uses_cluster_network(self) -> bool:
        return bool(self.cluster_network)


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidConfig(
            f"LoadNetConf: failed to load netconf: {key}: expected {what}, "
            f"got {type(value).__name__ if value is not None else 'null'}"
        )
    return value


def _str_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    items = _get(data, key, list, "an array of strings")
    for idx, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidConfig(
                f"LoadNetConf: failed to load netconf: {key}[{idx}]: expected string"
            )
    return tuple(items)


def _log_options(data: Mapping[str, Any]) -> LogOptions:
    opts = _get(data, "logOptions", dict, "an object")
    values: dict[str, Any] = {}
    int_keys = (("maxAge", "max_age"), ("maxSize", "max_size"), ("maxBackups", "max_backups"))
    for key, attr in int_keys:
        if key in opts and opts[key] is not None:
            values[attr] = _get(opts, key, int, "an integer")
    if "compress" in opts and opts["compress"] is not None:
        values["compress"] = _get(opts, "compress", bool, "a boolean")
    return LogOptions(**values)


def decode(stdin: bytes) -> dict[str, Any]:
    try:
        data = json.loads(stdin)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"error unmarshall network config: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError("error unmarshall network config: expected a JSON object")
    return data


def load(stdin: bytes, *, cwd: str = "") -> NetConf:
    """Parse and validate a Multus config (CFG-01…21) from the runtime's stdin bytes."""
    data = decode(stdin)
    values: dict[str, Any] = {"raw": data}
    name = data.get("name", "")
    values["name"] = name if isinstance(name, str) else ""
    strings = {
        "cniVersion": "cni_version",
        "clusterNetwork": "cluster_network",
        "confDir": "conf_dir",
        "cniDir": "cni_dir",
        "binDir": "bin_dir",
        "kubeconfig": "kubeconfig",
        "logFile": "log_file",
        "logLevel": "log_level",
        "readinessindicatorfile": "readiness_indicator_file",
        "multusNamespace": "multus_namespace",
        "auxiliaryCNIChainName": "auxiliary_cni_chain_name",
    }
    for key, attr in strings.items():
        if key in data and data[key] is not None:
            values[attr] = _get(data, key, str, "a string")
    bools = {
        "logToStderr": "log_to_stderr",
        "namespaceIsolation": "namespace_isolation",
        "retryDeleteOnError": "retry_delete_on_error",
        "strictCapabilities": "strict_capabilities",
    }
    for key, attr in bools.items():
        if key in data and data[key] is not None:
            values[attr] = _get(data, key, bool, "a boolean")
    for key, attr in (("defaultNetworks", "default_networks"), ("systemNamespaces",
                                                                "system_namespaces")):
        if key in data and data[key] is not None:
            values[attr] = _str_list(data, key)
    if data.get("globalNamespaces") is not None:
        raw_global = _get(data, "globalNamespaces", str, "a string")
        if raw_global:
            values["global_namespaces"] = tuple(p.strip() for p in raw_global.split(","))
    if data.get("logOptions") is not None:
        values["log_options"] = _log_options(data)
    if data.get("delegateTimeout") is not None:
        timeout = _get(data, "delegateTimeout", (int, float), "a number of seconds")
        if isinstance(timeout, bool) or timeout < 0:
            raise InvalidConfig(
                "LoadNetConf: failed to load netconf: delegateTimeout: expected seconds >= 0"
            )
        values["delegate_timeout"] = float(timeout)
    if data.get("runtimeConfig") is not None:
        values["runtime_config"] = _get(data, "runtimeConfig", dict, "an object")
    if data.get("prevResult") is not None:
        values["prev_result"] = _get(data, "prevResult", dict, "an object")
    if values.get("readiness_indicator_file"):
        path = values["readiness_indicator_file"]
        values["readiness_indicator_file"] = os.path.normpath(
            path if os.path.isabs(path) else os.path.join(cwd or os.getcwd(), path)
        )

    cluster_network = values.get("cluster_network", "")
    raw_delegates = data.get("delegates")
    if not cluster_network:
        if raw_delegates is None or (isinstance(raw_delegates, list) and not raw_delegates):
            raise InvalidConfig(
                "LoadNetConf: at least one delegate/clusterNetwork must be specified"
            )
        if not isinstance(raw_delegates, list):
            raise InvalidConfig(
                "LoadNetConf: failed to load netconf: delegates: expected an array of objects"
            )
        delegates: list[bytes] = []
        for idx, item in enumerate(raw_delegates):
            if not isinstance(item, dict):
                raise InvalidConfig(
                    f"LoadNetConf: failed to load delegate {idx} config: expected an object"
                )
            check_delegate(item, f"LoadNetConf: failed to load delegate {idx} config: ")
            delegates.append(json.dumps(item).encode())
        values["delegates"] = tuple(delegates)
    return NetConf(**values)


def check_delegate(conf: Mapping[str, Any], prefix: str) -> None:
    """Upstream's conf-vs-conflist rule (NAD-04) with its error texts."""
    plugin_type = conf.get("type")
    if isinstance(plugin_type, str) and plugin_type:
        return
    plugins = conf.get("plugins")
    if plugins is None:
        raise InvalidConfig(
            prefix + "LoadDelegateNetConf: failed with: LoadDelegateNetConfList: "
            "delegate must have the 'type' or 'plugin' field"
        )
    if not isinstance(plugins, list) or not plugins:
        raise InvalidConfig(
            prefix + "LoadDelegateNetConf: failed with: LoadDelegateNetConfList: "
            "a plugin delegate must have the 'type' field"
        )
    for plugin in plugins:
        if not isinstance(plugin, dict) or not isinstance(plugin.get("type"), str) or not (
            plugin["type"]
        ):
            raise InvalidConfig(
                prefix + "LoadDelegateNetConf: failed with: LoadDelegateNetConfList: "
                "a plugin delegate must have the 'type' field"
            )


def check_version(conf: NetConf, command: str) -> None:
    """skel's version checks for the config's ``cniVersion`` (CORE-02)."""
    version = conf.cni_version or cniversion.DEFAULT
    if version not in cniversion.SUPPORTED_VERSIONS:
        supported = " ".join(f'"{v}"' for v in cniversion.SUPPORTED_VERSIONS)
        raise IncompatibleVersion(
            "incompatible CNI versions", f'config is "{version}", plugin supports [{supported}]'
        )
    minimum = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}.get(command)
    if minimum and not cniversion.ge(version, minimum):
        raise IncompatibleVersion(f"config version does not allow {command}")
