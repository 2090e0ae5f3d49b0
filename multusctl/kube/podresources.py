"""Which devices kubelet gave a pod: the resource map behind NAD ``resourceName`` (NAD-06/07).

A NAD annotated ``k8s.v1.cni.cncf.io/resourceName: R`` asks for one of the devices the pod
was allocated for resource ``R``. The answer comes from the kubelet:

* if the PodResources socket exists: ``v1.PodResourcesLister/List`` over gRPC (insecure
  unix socket, call timeout 10 s, 16 MiB receive limit), entries matched by pod
  **name + namespace**; each container's device-plugin devices and (v4.2.1 shape) DRA
  dynamic resources are added;
* otherwise the device manager's checkpoint file, entries matched by pod **UID**.

The result is one ``resource name → [device ids]`` map per CNI request (BUG-24: the cluster
network, defaultNetworks and annotation networks all draw from the same map), with each list
sorted (HEAD-10), and an :class:`Allocator` hands its IDs out one by one.

``grpc`` and the generated protobuf module are imported only inside :func:`list_pod_resources`,
so importing this module costs nothing beyond the stdlib; a request whose NADs carry no
``resourceName`` never pays for gRPC.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from multusctl.errors import MultusError

if TYPE_CHECKING:
    from multusctl.kube._podresources import podresources_v1_pb2 as pb

#: The kubelet's PodResources API socket.
SOCKET_PATH = "/var/lib/kubelet/pod-resources/kubelet.sock"
#: The device manager checkpoint, used when the socket does not exist.
CHECKPOINT_PATH = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint"
#: gRPC method of ``PodResourcesLister.List`` (proto package ``v1``).
LIST_METHOD = "/v1.PodResourcesLister/List"
#: Largest List response accepted (upstream: 16 MiB).
MAX_RECEIVE_BYTES = 16 * 1024 * 1024
#: Deadline of the List call, connecting included. Upstream also passes a 10 s timeout to a
#: non-blocking dial, which therefore never bounds anything; connecting happens inside the
#: call, fails fast when the socket refuses, and is covered by this deadline.
CALL_TIMEOUT = 10.0

ResourceMap = dict[str, list[str]]
"""Resource name (device-plugin resource or DRA class) → device IDs, sorted."""


class PodResourcesError(MultusError):
    """The kubelet's device allocation could not be read (message carries upstream's chain)."""


# --- what the kubelet reports, as plain values --------------------------------------------
# NamedTuples rather than dataclasses: same immutability, a third of the import cost.


class ContainerDevices(NamedTuple):
    resource_name: str
    device_ids: tuple[str, ...] = ()


class DynamicResource(NamedTuple):
    """A DRA allocation as the v1 API reported it in Multus v4.2.1's time."""

    class_name: str
    claim_name: str = ""
    claim_namespace: str = ""
    cdi_devices: tuple[str, ...] = ()
    """Fully qualified CDI device names (``vendor.com/class=<id>``) of all claim resources."""


class ContainerResources(NamedTuple):
    name: str
    devices: tuple[ContainerDevices, ...] = ()
    dynamic_resources: tuple[DynamicResource, ...] = ()


class PodResources(NamedTuple):
    name: str
    namespace: str
    containers: tuple[ContainerResources, ...] = ()


class CheckpointEntry(NamedTuple):
    """One ``Data.PodDeviceEntries[]`` element of the device manager checkpoint."""

    pod_uid: str
    container_name: str
    resource_name: str
    device_ids: tuple[str, ...] = ()


# --- pure: building the map ------------------------------------------------------------------


def cdi_device_id(name: str) -> str | None:
    """The device ID in a CDI name ``vendor/class=<id>``; ``None`` unless exactly one ``=``."""
    parts = name.split("=")
    if len(parts) != 2:
        return None
    return parts[1]


def _sorted(resource_map: dict[str, list[str]]) -> ResourceMap:
    return {name: sorted(ids) for name, ids in resource_map.items()}


def map_from_pod_resources(
    pods: Iterable[PodResources],
    pod_name: str,
    pod_namespace: str,
    *,
    log_error: Callable[[str], None] | None = None,
) -> ResourceMap:
    """The resource map of pod ``pod_namespace/pod_name`` from a List response.

    Every matching entry and container contributes: ``devices[]`` under their resource name,
    then ``dynamicResources[]`` under their class name with the part after ``=`` of each CDI
    device name (a malformed name is logged as ``GetPodResourceMap: Invalid CDI format`` and
    skipped). Lists are sorted (HEAD-10). A resource reported with no devices maps to ``[]``.
    """
    if not pod_name or not pod_namespace:
        raise PodResourcesError("GetPodResourceMap: Pod name or namespace cannot be empty")
    found: dict[str, list[str]] = {}
    for pod in pods:
        if pod.name != pod_name or pod.namespace != pod_namespace:
            continue
        for container in pod.containers:
            for dev in container.devices:
                found.setdefault(dev.resource_name, []).extend(dev.device_ids)
            for dyn in container.dynamic_resources:
                ids = found.setdefault(dyn.class_name, [])
                for cdi in dyn.cdi_devices:
                    device_id = cdi_device_id(cdi)
                    if device_id is None:
                        if log_error is not None:
                            log_error("GetPodResourceMap: Invalid CDI format")
                        continue
                    ids.append(device_id)
    return _sorted(found)


def map_from_checkpoint(entries: Iterable[CheckpointEntry], pod_uid: str) -> ResourceMap:
    """The resource map of the pod with UID ``pod_uid`` from checkpoint entries (sorted)."""
    if not pod_uid:
        raise PodResourcesError("GetPodResourceMap: invalid Pod cannot be empty")
    found: dict[str, list[str]] = {}
    for entry in entries:
        if entry.pod_uid == pod_uid:
            found.setdefault(entry.resource_name, []).extend(entry.device_ids)
    return _sorted(found)


class Allocator:
    """Hands out each resource's device IDs in order, each once (NAD-06).

    Every NAD that consumes resource R calls :meth:`take`; the first gets the first ID, the
    next one the second, and so on; once R is exhausted (or unknown) ``take`` returns
    ``None`` and the attachment simply has no deviceID. Use one allocator per CNI request
    for all networks of the pod (cluster network, defaultNetworks, annotation networks), so
    two networks never get the same device (BUG-24).

    Build it from a map, or from a ``loader`` that is called on the first :meth:`take` only
    (upstream builds the map "on first need"); a loader error propagates from that call.
    """

    def __init__(
        self,
        resource_map: Mapping[str, Sequence[str]] | None = None,
        *,
        loader: Callable[[], Mapping[str, Sequence[str]]] | None = None,
    ) -> None:
        if (resource_map is None) == (loader is None):
            raise TypeError("Allocator needs exactly one of resource_map and loader")
        self._map: Mapping[str, Sequence[str]] | None = resource_map
        self._loader = loader
        self._next: dict[str, int] = {}

    @property
    def loaded(self) -> bool:
        """Whether the resource map has been built (tests and logs)."""
        return self._map is not None

    def resource_map(self) -> Mapping[str, Sequence[str]]:
        """The map, building it now if needed."""
        if self._map is None:
            loader = self._loader
            if loader is None:  # pragma: no cover - excluded by __init__
                raise TypeError("Allocator has neither a map nor a loader")
            self._map = loader()
        return self._map

    def take(self, resource_name: str) -> str | None:
        """The next unused device ID of ``resource_name``, or ``None``."""
        ids = self.resource_map().get(resource_name, ())
        index = self._next.get(resource_name, 0)
        if index >= len(ids):
            return None
        self._next[resource_name] = index + 1
        return ids[index]


# --- I/O: the checkpoint file --------------------------------------------------------------


def _go_errno(op: str, path: str, exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return f"{op} {path}: {text[:1].lower()}{text[1:]}"


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"json: cannot unmarshal {where}: expected a list of strings")
    return list(value)


def _or(value: object, default: object) -> Any:
    """JSON ``null`` reads as the zero value, as Go's decoder does; other values stay."""
    return default if value is None else value


def parse_checkpoint(data: bytes) -> list[CheckpointEntry]:
    """The pod device entries of a device manager checkpoint document.

    ``DeviceIDs`` is ``{"<numa node>": [ids]}`` (kubelet ≥ 1.20) or a plain list (older
    kubelets); both are flattened. Raises ``ValueError`` on malformed input.
    """
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("json: cannot unmarshal checkpoint: expected an object")
    body = _or(doc.get("Data"), {})
    if not isinstance(body, dict):
        raise ValueError("json: cannot unmarshal Data: expected an object")
    raw_entries = _or(body.get("PodDeviceEntries"), [])
    if not isinstance(raw_entries, list):
        raise ValueError("json: cannot unmarshal Data.PodDeviceEntries: expected a list")
    entries: list[CheckpointEntry] = []
    for idx, item in enumerate(raw_entries):
        if not isinstance(item, dict):
            raise ValueError(f"json: cannot unmarshal Data.PodDeviceEntries[{idx}]: not an object")
        fields: dict[str, str] = {}
        for key in ("PodUID", "ContainerName", "ResourceName"):
            value = _or(item.get(key), "")
            if not isinstance(value, str):
                raise ValueError(
                    f"json: cannot unmarshal Data.PodDeviceEntries[{idx}].{key}: not a string"
                )
            fields[key] = value
        raw_ids = _or(item.get("DeviceIDs"), [])
        where = f"Data.PodDeviceEntries[{idx}].DeviceIDs"
        ids: list[str] = []
        if isinstance(raw_ids, dict):
            for numa, per_node in raw_ids.items():
                ids.extend(_strings(_or(per_node, []), f"{where}[{numa}]"))
        else:
            ids = _strings(raw_ids, where)
        entries.append(
            CheckpointEntry(
                pod_uid=fields["PodUID"],
                container_name=fields["ContainerName"],
                resource_name=fields["ResourceName"],
                device_ids=tuple(ids),
            )
        )
    return entries


def read_checkpoint(path: str = CHECKPOINT_PATH) -> list[CheckpointEntry]:
    """The checkpoint's pod device entries; upstream's ``getPodEntries`` error texts."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise PodResourcesError(
            f"getPodEntries: error reading file {path}\n{_go_errno('open', path, exc)}\n"
        ) from exc
    try:
        return parse_checkpoint(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PodResourcesError(f"getPodEntries: error unmarshalling raw bytes {exc}") from exc


# --- I/O: the PodResources gRPC API ---------------------------------------------------------


def from_proto(message: pb.ListPodResourcesResponse) -> list[PodResources]:
    """Plain values from a decoded ``ListPodResourcesResponse``."""
    return [
        PodResources(
            name=pod.name,
            namespace=pod.namespace,
            containers=tuple(
                ContainerResources(
                    name=ctr.name,
                    devices=tuple(
                        ContainerDevices(dev.resource_name, tuple(dev.device_ids))
                        for dev in ctr.devices
                    ),
                    dynamic_resources=tuple(
                        DynamicResource(
                            class_name=dyn.class_name,
                            claim_name=dyn.claim_name,
                            claim_namespace=dyn.claim_namespace,
                            cdi_devices=tuple(
                                cdi.name
                                for claim in dyn.claim_resources
                                for cdi in claim.cdi_devices
                            ),
                        )
                        for dyn in ctr.dynamic_resources
                    ),
                )
                for ctr in pod.containers
            ),
        )
        for pod in message.pod_resources
    ]


def _go_status(code_name: str, details: str) -> str:
    """A gRPC failure the way grpc-go prints it (``rpc error: code = X desc = Y``)."""
    code = "OK" if code_name == "OK" else "".join(p.capitalize() for p in code_name.split("_"))
    return f"rpc error: code = {code} desc = {details}"


def list_pod_resources(
    socket_path: str = SOCKET_PATH,
    *,
    timeout: float = CALL_TIMEOUT,
    max_receive_bytes: int = MAX_RECEIVE_BYTES,
) -> list[PodResources]:
    """Call ``v1.PodResourcesLister/List`` on the kubelet socket and return its pods.

    Errors carry upstream's ``getKubeletClient: …`` chain, the gRPC status rendered the way
    grpc-go prints it.
    """
    import grpc

    from multusctl.kube._podresources import podresources_v1_pb2 as pb

    target = "unix:" + os.path.abspath(socket_path)
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_receive_bytes),
        ("grpc.enable_http_proxy", 0),
    ]
    try:
        with grpc.insecure_channel(target, options=options) as channel:
            call = channel.unary_unary(
                LIST_METHOD,
                request_serializer=pb.ListPodResourcesRequest.SerializeToString,
                response_deserializer=pb.ListPodResourcesResponse.FromString,
            )
            response: pb.ListPodResourcesResponse = call(
                pb.ListPodResourcesRequest(), timeout=timeout
            )
    except grpc.RpcError as exc:
        # The raised object is also a grpc.Call (code(), details()); RpcError alone is not.
        code_of = getattr(exc, "code", None)
        details_of = getattr(exc, "details", None)
        code = code_of() if callable(code_of) else None
        details = (details_of() if callable(details_of) else None) or str(exc)
        status = _go_status(getattr(code, "name", "UNKNOWN"), str(details))
        raise PodResourcesError(
            "getKubeletClient: error getting pod resources from client: "
            f"getPodResources: failed to list pod resources, &{{{target}}}.Get(_) = _, "
            f"{status}\n"
        ) from exc
    return from_proto(response)


# --- the one call the plugin makes ------------------------------------------------------------


def resource_map(
    pod_name: str,
    pod_namespace: str,
    pod_uid: str,
    *,
    socket_path: str = SOCKET_PATH,
    checkpoint_path: str = CHECKPOINT_PATH,
    timeout: float = CALL_TIMEOUT,
    log_error: Callable[[str], None] | None = None,
    log_debug: Callable[[str], None] | None = None,
) -> ResourceMap:
    """The pod's resource map, from the PodResources API if its socket exists, else the
    checkpoint file.

    Errors are :class:`PodResourcesError` with upstream's full ``getKubernetesDelegate: …``
    text (``failed to get a ResourceClient instance: …`` when the kubelet data could not be
    read, ``failed to get resourceMap from ResourceClient: …`` when the pod identity is
    missing); the caller adds the outer ``GetNetworkDelegates``/``TryLoadPodDelegates`` wraps.
    """
    try:
        if os.path.exists(socket_path):
            if log_debug is not None:
                log_debug("GetResourceClient: using Kubelet resource API endpoint")
            pods = list_pod_resources(socket_path, timeout=timeout)

            def build() -> ResourceMap:
                return map_from_pod_resources(pods, pod_name, pod_namespace, log_error=log_error)

        else:
            if log_debug is not None:
                log_debug("GetResourceClient: using Kubelet device plugin checkpoint")
            entries = read_checkpoint(checkpoint_path)

            def build() -> ResourceMap:
                return map_from_checkpoint(entries, pod_uid)

    except PodResourcesError as exc:
        exc.prefixed("getKubernetesDelegate: failed to get a ResourceClient instance: ")
        raise
    try:
        return build()
    except PodResourcesError as exc:
        exc.prefixed("getKubernetesDelegate: failed to get resourceMap from ResourceClient: ")
        raise


def allocator_for_pod(
    pod_name: str,
    pod_namespace: str,
    pod_uid: str,
    *,
    socket_path: str = SOCKET_PATH,
    checkpoint_path: str = CHECKPOINT_PATH,
    timeout: float = CALL_TIMEOUT,
    log_error: Callable[[str], None] | None = None,
    log_debug: Callable[[str], None] | None = None,
) -> Allocator:
    """One lazy :class:`Allocator` per CNI request: the kubelet is asked on the first ``take``."""
    return Allocator(
        loader=lambda: resource_map(
            pod_name,
            pod_namespace,
            pod_uid,
            socket_path=socket_path,
            checkpoint_path=checkpoint_path,
            timeout=timeout,
            log_error=log_error,
            log_debug=log_debug,
        )
    )
