"""Kubernetes-backed delegates: the pod, its annotations, NADs, clusterNetwork/defaultNetworks.

Everything here talks to the API server only through the ``KubeAPI`` port, so the thin
plugin (REST), the thick daemon (watch caches) and ``multusctl explain`` (objects from
files) share the exact same resolution logic.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from multusctl.cni import invoke
from multusctl.cni.env import K8sArgs
from multusctl.errors import (
    DecodeError,
    InvalidConfig,
    KubeError,
    KubeNotFound,
    KubeUnavailable,
    MultusError,
)
from multusctl.plugin import delegates, devinfo, selection
from multusctl.plugin.delegates import Delegate
from multusctl.plugin.netconf import NetConf, check_delegate
from multusctl.plugin.ports import Clock, KubeAPI, Log

NETWORKS_ANNOT = "k8s.v1.cni.cncf.io/networks"
DEFAULT_NETWORK_ANNOT = "v1.multus-cni.io/default-network"
RESOURCE_NAME_ANNOT = "k8s.v1.cni.cncf.io/resourceName"
CONFIG_SOURCE_ANNOT = "kubernetes.io/config.source"

POD_POLL_INTERVAL = 0.25
POD_POLL_TIMEOUT = 2.5
#: Per-GET timeout while polling. Upstream uses 250 ms, which a TLS handshake on a loaded
#: node can exceed; a longer per-try timeout keeps the same overall bound in practice.
POD_GET_TIMEOUT = 2.5
CNI_EXTENSIONS = (".conf", ".conflist", ".json")


class PodNotFound(MultusError):
    """``pod not found during Multus GetPod``: ADD answers with an empty result."""


@dataclass
class Resolver:
    """Resolves networks for one pod; carries per-request state (device allocation)."""

    conf: NetConf
    kube: KubeAPI
    k8s: K8sArgs
    log: Log
    pod: dict[str, Any] | None = None
    #: ``resourceName`` → device IDs for this pod, loaded on first need.
    device_ids: Callable[[str], str | None] | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)

    # ---------------------------------------------------------------- pod

    def pod_namespace(self) -> str:
        return self.k8s.pod_namespace

    def annotations(self) -> Mapping[str, str]:
        if self.pod is None:
            return {}
        annots = self.pod.get("metadata", {}).get("annotations") or {}
        return annots if isinstance(annots, dict) else {}

    # ---------------------------------------------------------------- NADs

    def nad_delegate(
        self,
        namespace: str,
        name: str,
        sel: selection.NetworkSelection | None,
        *,
        report_missing: bool = True,
    ) -> Delegate:
        """NAD-01…08: fetch the NAD and turn it into a delegate with the pod's requests."""
        try:
            nad = self.kube.get_nad(namespace, name)
        except KubeError as exc:
            msg = (
                f"cannot find a network-attachment-definition ({name}) in namespace "
                f"({namespace}): {exc}"
            )
            if report_missing:
                self.events.append(("Warning", "NoNetworkFound", msg))
            raise MultusError(f"getKubernetesDelegate: {msg}", code=exc.cni_code) from None
        raw = self.nad_config(nad, name, namespace)
        delegate = Delegate(name=f"{namespace}/{name}", raw=raw)
        resource = ((nad.get("metadata") or {}).get("annotations") or {}).get(
            RESOURCE_NAME_ANNOT, ""
        )
        if resource and self.device_ids is not None:
            device = self.device_ids(str(resource))
            if device:
                delegate = dataclasses.replace(
                    delegate,
                    device_id=device,
                    resource_name=str(resource),
                    raw=devinfo.inject_device_id(delegate.raw, device),
                )
        if sel is not None:
            delegate = apply_selection(delegate, sel)
        return delegate

    def nad_config(self, nad: Mapping[str, Any], name: str, namespace: str = "") -> bytes:
        """NAD-02/03: ``spec.config`` (name injected when missing) or a file in confDir."""
        spec = nad.get("spec") or {}
        config = spec.get("config", "") if isinstance(spec, dict) else ""
        if not config:
            try:
                return find_conf_by_name(self.conf.conf_dir, name, self.log)
            except MultusError as exc:
                raise exc.prefixed("GetCNIConfig: err in GetCNIConfigFromFile: ") from None
        try:
            data = json.loads(config)
        except ValueError as exc:
            raise DecodeError(
                f"GetCNIConfig: err in getCNIConfigFromSpec: failed to unmarshal Spec.Config: "
                f"{exc}"
            ) from None
        if not isinstance(data, dict):
            raise DecodeError(
                "GetCNIConfig: err in getCNIConfigFromSpec: failed to unmarshal Spec.Config: "
                "expected a JSON object"
            )
        check_delegate(data, "")
        _validate(str(config), f"{namespace}/{name}", nad, self.log)
        if not data.get("name"):
            data["name"] = name
            return json.dumps(data).encode()
        return str(config).encode()

    # ---------------------------------------------------------------- cluster networks

    def network_by_value(self, value: str) -> Delegate:
        """CFG-12: a NAD in multusNamespace, a config name in confDir, a dir, or a file."""
        if "/" not in value:
            try:
                # No NoNetworkFound event here: upstream emits a spurious one (BUG-25).
                return self.nad_delegate(
                    self.conf.multus_namespace, value, None, report_missing=False
                )
            except MultusError as exc:
                self.log.verbose(f"getNetDelegate: NAD {value} not usable ({exc}), trying files")
            try:
                raw = find_conf_by_name(self.conf.conf_dir, value, self.log)
            except MultusError:
                raise MultusError(f"getNetDelegate: cannot find network: {value}") from None
            return delegates.from_config(raw)
        try:
            st = os.stat(value)
        except OSError as exc:
            raise MultusError(f"stat {value}: {exc.strerror.lower() if exc.strerror else exc}"
                              ) from None
        if os.path.isdir(value):
            files = conf_files(value)
            if not any(f.endswith((".conf", ".conflist")) for f in files):
                raise MultusError(f"getNetDelegate: cannot find network: {value}")
            return delegates.from_config(load_conf_file(files[0]))
        del st
        return delegates.from_config(load_conf_file(value))

    def cluster_delegates(self) -> list[Delegate]:
        """clusterNetwork (master) then defaultNetworks (not for systemNamespaces)."""
        conf = self.conf
        try:
            master = dataclasses.replace(self.network_by_value(conf.cluster_network), master=True)
        except MultusError:
            raise MultusError(
                f"GetDefaultNetworks: failed to get clusterNetwork {conf.cluster_network} in "
                f"namespace {conf.multus_namespace}"
            ) from None
        items = [master]
        if self.pod is not None and self.pod_namespace() not in conf.system_namespaces:
            items.extend(self.network_by_value(v) for v in conf.default_networks)
        return items

    # ---------------------------------------------------------------- pod delegates

    def pod_delegates(self, base: list[Delegate]) -> list[Delegate]:
        """ANN-07 replaces delegate 0; ANN-01…06 append the selected networks."""
        annots = self.annotations()
        items = list(base)
        if DEFAULT_NETWORK_ANNOT in annots:
            try:
                sel = selection.parse_default_network(
                    annots[DEFAULT_NETWORK_ANNOT], self.conf.multus_namespace
                )
                try:
                    replacement = self.nad_delegate(sel.namespace, sel.name, sel)
                except MultusError as exc:
                    raise exc.prefixed(
                        "tryLoadK8sPodDefaultNetwork: failed getting the delegate: "
                    ) from None
            except MultusError as exc:
                raise exc.prefixed(
                    "TryLoadPodDelegates: error in loading K8s cluster default network from "
                    "pod annotation: "
                ) from None
            replacement = dataclasses.replace(replacement, master=True)
            if items:
                items[0] = replacement
            else:
                items = [replacement]
        raw_networks = annots.get(NETWORKS_ANNOT, "")
        selections = selection.parse_networks(raw_networks, self.pod_namespace())
        if not selections:
            return items
        for sel in selections:
            if self.conf.namespace_isolation and sel.namespace != self.pod_namespace() and (
                sel.namespace not in self.conf.global_namespaces
            ):
                raise MultusError(
                    "TryLoadPodDelegates: error in getting k8s network for pod: "
                    "GetNetworkDelegates: namespace isolation enabled, annotation violates "
                    f"permission, pod is in namespace {self.pod_namespace()} but refers to "
                    f"target namespace {sel.namespace}"
                )
            try:
                items.append(self.nad_delegate(sel.namespace, sel.name, sel))
            except MultusError as exc:
                raise exc.prefixed(
                    "TryLoadPodDelegates: error in getting k8s network for pod: "
                    "GetNetworkDelegates: failed getting the delegate: "
                ) from None
        # Upstream checks ECMP over every delegate, the default-network one included.
        selection.check_gateways(items)
        return mark_default_route_filters(items)


def _validate(config: str, label: str, nad: Mapping[str, Any], log: Log) -> None:
    """The same validator as ``multusctl validate-nad``.

    Errors that make a config unusable for libcni (bad JSON, neither conf nor conflist, a
    missing or path-like ``type``) fail the attachment; every other finding is logged, so
    NADs that upstream accepts keep working (the delegate itself may still refuse them).
    """
    from multusctl.nad import validate

    annots = (nad.get("metadata") or {}).get("annotations") or {}
    findings = validate.validate_config(
        config, source=label, has_resource=RESOURCE_NAME_ANNOT in annots
    )
    for finding in findings:
        if finding.check not in validate.LOAD_FATAL_CHECKS:
            log.error(
                f"network-attachment-definition {label}: {finding.severity}: "
                f"spec.config.{finding.path}: {finding.message}"
            )
    errors = [
        f for f in findings if f.severity == "error" and f.check in validate.LOAD_FATAL_CHECKS
    ]
    if errors:
        first = errors[0]
        where = f"spec.config.{first.path}" if first.path else "spec.config"
        raise InvalidConfig(
            f"network-attachment-definition {label} is invalid: {where}: {first.message}"
            + (f" (and {len(errors) - 1} more; run multusctl validate-nad)" if len(errors) > 1
               else "")
        )


def apply_selection(delegate: Delegate, sel: selection.NetworkSelection) -> Delegate:
    """ANN-05: per-attachment requests of one selection element."""
    raw = delegate.raw
    if sel.cni_args:
        raw = inject_cni_args(raw, sel.cni_args)
    device_id = delegate.device_id
    if sel.device_id and not device_id:
        device_id = sel.device_id
    return dataclasses.replace(
        delegate,
        raw=raw,
        ifname_request=sel.interface,
        mac_request=sel.mac,
        ip_request=tuple(sel.ips),
        infiniband_guid_request=sel.infiniband_guid,
        device_id=device_id,
        port_mappings=tuple(sel.port_mappings) if sel.port_mappings else None,
        bandwidth=sel.bandwidth or None,
        default_route=tuple(sel.default_route) if sel.default_route is not None else None,
    )


def mark_default_route_filters(items: Sequence[Delegate]) -> list[Delegate]:
    """CORE-14: once any delegate requests ``default-route``, every delegate filters the
    default gateways of the families it does not request itself."""
    if not any(d.default_route is not None for d in items):
        return list(items)
    out: list[Delegate] = []
    for d in items:
        families = {":" in gw for gw in d.default_route or ()}
        out.append(
            dataclasses.replace(
                d, filter_v4_gateway=False not in families, filter_v6_gateway=True not in families
            )
        )
    return out


def _edit_plugins(raw: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    data = json.loads(raw)
    if not isinstance(data, dict):
        return raw
    if data.get("type"):
        edit(data)
    else:
        for plugin in data.get("plugins") or []:
            if isinstance(plugin, dict):
                edit(plugin)
    return json.dumps(data).encode()


def inject_cni_args(raw: bytes, cni_args: Mapping[str, Any]) -> bytes:
    """NAD-08: merge ``cni-args`` into ``args.cni`` (every plugin of a conflist)."""

    def edit(plugin: dict[str, Any]) -> None:
        args = plugin.get("args")
        if args is None:
            args = plugin["args"] = {}
        if not isinstance(args, dict):
            raise InvalidConfig("cni-args: the delegate config's \"args\" is not an object")
        cni = args.get("cni")
        if not isinstance(cni, dict):
            cni = args["cni"] = {}
        cni.update(cni_args)

    return _edit_plugins(raw, edit)


# --------------------------------------------------------------------------- files


def conf_files(directory: str) -> list[str]:
    """CNI config files of a directory in sorted filename order (not directories)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [
        os.path.join(directory, n)
        for n in names
        if n.endswith(CNI_EXTENSIONS) and not os.path.isdir(os.path.join(directory, n))
    ]


def load_conf_file(path: str) -> bytes:
    """A CNI config file: a ``.conflist`` with its subdirectory plugins (CFG-21), or a conf."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise MultusError(f"error loading CNI config file {path}: {exc}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise DecodeError(f"error loading CNI config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError(f"error loading CNI config file {path}: not a JSON object")
    if path.endswith(".conflist"):
        return _with_subdirectory_plugins(path, data, raw)
    if not data.get("type"):
        raise InvalidConfig(
            f"error loading CNI config file {path}: error parsing configuration: missing 'type'"
        )
    return raw


def _with_subdirectory_plugins(path: str, data: dict[str, Any], raw: bytes) -> bytes:
    if data.get("loadOnlyInlinedPlugins") is True:
        return raw
    name = str(data.get("name", ""))
    subdir = os.path.join(os.path.dirname(path), name)
    extra: list[dict[str, Any]] = []
    if name and os.path.isdir(subdir):
        for sub in sorted(os.listdir(subdir)):
            if sub.endswith(".conf"):
                with open(os.path.join(subdir, sub), "rb") as fh:
                    plugin = json.loads(fh.read())
                if isinstance(plugin, dict):
                    extra.append(plugin)
    listed = data.get("plugins")
    plugins: list[Any] = listed if isinstance(listed, list) else []
    if not plugins and not extra:
        raise InvalidConfig(f"error loading CNI conflist file {path}: no plugin configs found")
    if not extra:
        return raw
    data["plugins"] = [*plugins, *extra]
    return json.dumps(data).encode()


def find_conf_by_name(conf_dir: str, name: str, log: Log) -> bytes:
    """NAD-03: the first file in ``conf_dir`` whose ``name`` matches; original bytes.

    Upstream aborts the whole search on the first unparsable file (BUG-22); we skip such
    files with an error log, so one broken file cannot hide every other network.
    """
    files = conf_files(conf_dir)
    if not files:
        raise MultusError(f"No networks found in {conf_dir}")
    for path in files:
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
            data = json.loads(raw)
        except (OSError, ValueError) as exc:
            log.error(f"skipping unreadable CNI config {path}: {exc}")
            continue
        if isinstance(data, dict) and data.get("name") == name:
            if path.endswith(".conflist"):
                return raw
            if not data.get("type"):
                log.error(f"skipping CNI config {path}: missing 'type'")
                continue
            return raw
    raise MultusError(f"no network available in the name {name} in cni dir {conf_dir}")


# --------------------------------------------------------------------------- pod lookup


def is_static_pod(pod: Mapping[str, Any]) -> bool:
    annots = (pod.get("metadata") or {}).get("annotations") or {}
    source = annots.get(CONFIG_SOURCE_ANNOT)
    return source is not None and source != "api"


def get_pod(
    kube: KubeAPI, k8s: K8sArgs, clock: Clock, log: Log, *, is_del: bool
) -> dict[str, Any] | None:
    """CORE-06: poll the pod (250 ms, 2.5 s), then one live GET. None when not found."""
    deadline = clock.monotonic() + POD_POLL_TIMEOUT
    pod: dict[str, Any] | None = None
    while True:
        try:
            pod = kube.get_pod(k8s.pod_namespace, k8s.pod_name, timeout=POD_GET_TIMEOUT)
            break
        except KubeNotFound:
            return None
        except KubeUnavailable as exc:
            log.verbose(f"GetPod: retriable error: {exc}")
        except KubeError as exc:
            raise MultusError(f"error waiting for pod: {exc}", code=exc.cni_code) from None
        if clock.monotonic() >= deadline:
            try:
                pod = kube.get_pod(k8s.pod_namespace, k8s.pod_name, timeout=POD_GET_TIMEOUT)
                break
            except KubeNotFound:
                return None
            except KubeError as exc:
                raise MultusError(f"error waiting for pod: {exc}", code=exc.cni_code) from None
        clock.sleep(POD_POLL_INTERVAL)
    uid = str((pod.get("metadata") or {}).get("uid", ""))
    if k8s.pod_uid and uid != k8s.pod_uid and not is_static_pod(pod):
        if is_del:
            log.verbose(
                f"warning: expected pod UID {k8s.pod_uid!r} but got {uid!r} from Kube API, "
                "ignoring the pod"
            )
            return None
        raise MultusError(f'expected pod UID "{k8s.pod_uid}" but got "{uid}" from Kube API')
    return pod


def default_route_plan(
    delegate: Delegate, result: Mapping[str, Any]
) -> tuple[set[int], list[str]]:
    """CORE-14 per delegate: the IP families whose default routes to drop, and gateways
    to add. Families are 4 and 6; only families filtered or requested are touched."""
    drop: set[int] = set()
    if delegate.filter_v4_gateway:
        drop.add(4)
    if delegate.filter_v6_gateway:
        drop.add(6)
    gateways = list(delegate.default_route or ())
    for gw in gateways:
        drop.add(6 if ":" in gw else 4)
    if not (result.get("interfaces") or result.get("ips") or result.get("ip4") or
            result.get("ip6")):
        return set(), []
    return drop, gateways


def network_list(delegate: Delegate) -> invoke.NetworkList:
    return delegate.network()
