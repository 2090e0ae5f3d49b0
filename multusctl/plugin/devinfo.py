"""Device information for resource-backed attachments (NAD-06, CORE-20, NPWG devinfo spec).

Three jobs, all stdlib:

* put the allocated ``deviceID`` (and its historical alias ``pciBusID``) into a delegate's
  raw config: at the top level of a single-plugin config, into every plugin of a conflist;
* copy the device plugin's devinfo file (``<base>/dp/…-device.json``) to the attachment's
  CNIDeviceInfoFile before ADD, load that file after ADD for network-status ``device-info``
  and remove it on DEL;
* normalise a devinfo document the way nad-client's ``DeviceInfo`` type does, so the file we
  write and the ``device-info`` we report match upstream byte for byte.

Every path helper takes the devinfo base directory as a parameter so tests use tmp dirs.
Failures raise :class:`DevInfoError`; upstream only logs them (debug level), and so should
the caller.
"""

from __future__ import annotations

import json
import os
from typing import Any

from multusctl import fsutil
from multusctl.errors import InvalidConfig, IOFailure

#: Where device plugins and CNI implementations exchange device information.
DEFAULT_BASE = "/var/run/k8s.cni.cncf.io/devinfo"

#: nad-client's ``DeviceInfo`` JSON shape: field order as marshalled, per device type.
_SUBTYPES: dict[str, tuple[str, ...]] = {
    "pci": ("pci-address", "vhost-net", "rdma-device", "pf-pci-address", "representor-device"),
    "vdpa": (
        "parent-device",
        "driver",
        "path",
        "pci-address",
        "pf-pci-address",
        "representor-device",
    ),
    "vhost-user": ("mode", "path"),
    "memif": ("role", "path", "mode"),
}
_TOP = ("type", "version", *_SUBTYPES)


class DevInfoError(IOFailure):
    """A devinfo file could not be read, parsed, written or removed."""


# --- deviceID injection ---------------------------------------------------------------


def _go_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "object"


def _load_object(raw: bytes, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidConfig(f"{where}: failed to unmarshal inBytes: {exc}") from exc
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise InvalidConfig(
            f"{where}: failed to unmarshal inBytes: json: cannot unmarshal {_go_kind(obj)} "
            "into Go value of type map[string]interface {}"
        )
    return obj


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def is_conflist(raw: bytes) -> bool:
    """Whether upstream treats ``raw`` as a conflist: it has a non-null ``plugins`` key."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and obj.get("plugins") is not None


def inject_device_id(raw: bytes, device_id: str, *, conflist: bool | None = None) -> bytes:
    """``raw`` with ``deviceID`` and ``pciBusID`` set to ``device_id`` (NAD-06).

    A single-plugin config gets both keys at the top level; a conflist gets them in every
    element of ``plugins``. ``conflist=None`` decides like upstream (:func:`is_conflist`).
    Other keys keep their values and order (existing ``deviceID``/``pciBusID`` keys keep
    their position); the result is compact JSON. Errors carry upstream's
    ``LoadDelegateNetConf: failed to add deviceID in …`` chain.
    """
    if conflist is None:
        conflist = is_conflist(raw)
    if not conflist:
        try:
            obj = _load_object(raw, "delegateAddDeviceID")
        except InvalidConfig as exc:
            exc.prefixed("LoadDelegateNetConf: failed to add deviceID in NetConf bytes: ")
            raise
        obj["deviceID"] = device_id
        obj["pciBusID"] = device_id
        return _dump(obj)
    prefix = "LoadDelegateNetConf: failed to add deviceID in NetConfList bytes: "
    try:
        obj = _load_object(raw, "addDeviceIDInConfList")
    except InvalidConfig as exc:
        exc.prefixed(prefix)
        raise
    if "plugins" not in obj:
        raise InvalidConfig(prefix + "addDeviceIDInConfList: unable to get plugin list")
    plugins = obj["plugins"]
    if not isinstance(plugins, list):
        raise InvalidConfig(prefix + "addDeviceIDInConfList: unable to typecast plugin list")
    for idx, plugin in enumerate(plugins):
        if not isinstance(plugin, dict):
            raise InvalidConfig(prefix + f"addDeviceIDInConfList: unable to typecast plugin #{idx}")
        plugin["deviceID"] = device_id
        plugin["pciBusID"] = device_id
    return _dump(obj)


# --- paths ------------------------------------------------------------------------------


def dp_path(resource_name: str, device_id: str, *, base: str = DEFAULT_BASE) -> str:
    """The device plugin's devinfo file: ``<base>/dp/<resource>-<device>-device.json``.

    ``/`` in the resource name and in the device ID becomes ``-``.
    """
    name = f"{resource_name.replace('/', '-')}-{device_id.replace('/', '-')}-device.json"
    return os.path.join(base, "dp", name)


# --- devinfo documents ---------------------------------------------------------------------


def _go_field(obj: dict[str, Any], key: str) -> Any:
    """Go's decoder matches struct fields exactly, else case-insensitively; last key wins."""
    found: Any = None
    for k, v in obj.items():
        if k == key or k.casefold() == key.casefold():
            found = v
    return found


def normalize(doc: object, *, where: str = "DeviceInfo") -> dict[str, Any]:
    """``doc`` as nad-client's ``DeviceInfo`` marshals it: known keys only, empty ones left out.

    Raises ``ValueError`` with a Go-like message on a type mismatch.
    """
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ValueError(
            f"json: cannot unmarshal {_go_kind(doc)} into Go value of type v1.DeviceInfo"
        )
    out: dict[str, Any] = {}
    for key in _TOP:
        value = _go_field(doc, key)
        if value is None:
            continue
        fields = _SUBTYPES.get(key)
        if fields is None:
            if not isinstance(value, str):
                raise ValueError(
                    f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                    f"{where}.{key} of type string"
                )
            if value:
                out[key] = value
            continue
        if not isinstance(value, dict):
            raise ValueError(
                f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                f"{where}.{key} of type v1.{key}"
            )
        sub: dict[str, str] = {}
        for field in fields:
            item = _go_field(value, field)
            if item is None:
                continue
            if not isinstance(item, str):
                raise ValueError(
                    f"json: cannot unmarshal {_go_kind(item)} into Go struct field "
                    f"{where}.{key}.{field} of type string"
                )
            if item:
                sub[field] = item
        # A present sub-object is a non-nil pointer in Go: it is marshalled even when empty.
        out[key] = sub
    return out


def _go_errno(op: str, path: str, exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return f"{op} {path}: {text[:1].lower()}{text[1:]}"


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise DevInfoError(_go_errno("open", path, exc)) from exc
    try:
        return normalize(json.loads(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DevInfoError(str(exc)) from exc


def load(path: str) -> dict[str, Any] | None:
    """The CNIDeviceInfoFile at ``path`` for network-status ``device-info``, normalised.

    ``None`` when the file does not exist (a plugin may or may not have written one);
    :class:`DevInfoError` when it exists but cannot be read or parsed.
    """
    if not os.path.lexists(path):
        return None
    return _read(path)


def copy_from_dp(
    cni_path: str, resource_name: str, device_id: str, *, base: str = DEFAULT_BASE
) -> None:
    """Before ADD: copy the device plugin's devinfo into the attachment's CNIDeviceInfoFile.

    Like nad-client's ``CopyDeviceInfoForCNIFromDP``: the dp file is parsed and re-marshalled
    (:func:`normalize`), the target directory is created if missing, an existing target is an
    error (``Device Information file already exists: <path>``), the file gets mode 0444.
    The write is atomic (temp file + rename). Upstream only logs these errors.
    """
    info = _read(dp_path(resource_name, device_id, base=base))
    directory = os.path.dirname(cni_path)
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise DevInfoError(_go_errno("mkdir", directory, exc)) from exc
    if os.path.lexists(cni_path):
        raise DevInfoError(f"Device Information file already exists: {cni_path}")
    payload = json.dumps(info, separators=(",", ":"), ensure_ascii=False)
    try:
        fsutil.atomic_write(cni_path, payload, mode=0o444)
    except OSError as exc:
        raise DevInfoError(_go_errno("open", cni_path, exc)) from exc


def remove(path: str) -> bool:
    """On DEL and rollback: remove the CNIDeviceInfoFile. Returns whether one was removed.

    A missing file is fine; other failures raise :class:`DevInfoError` (upstream logs them).
    """
    try:
        return fsutil.remove_quietly(path)
    except OSError as exc:
        raise DevInfoError(_go_errno("remove", path, exc)) from exc
