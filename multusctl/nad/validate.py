"""Validate NetworkAttachmentDefinitions: the one validator behind ``validate-nad``,
``explain`` and the plugin's NAD loading (stdlib only, no I/O except the optional
bin-dir lookups).

Public API:

* :func:`validate_nad` — a parsed NAD object (dict) → :class:`NadReport`;
* :func:`validate_config` — just a ``spec.config`` text → findings (for the plugin);
* :func:`cross_check` — reports of several NADs → overlap warnings between them.

Every finding names the object, the JSON path, and says in one line what is wrong and
how to fix it. Errors are what makes ADD fail (or what the API server rejects); warnings
are legal but probably not what the author meant.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from multusctl.cni.version import SUPPORTED_VERSIONS
from multusctl.jsontypes import kind_of as _kind
from multusctl.nad.findings import (
    ERROR,
    WARNING,
    Collector,
    Finding,
    IpRange,
    NadReport,
    join,
)
from multusctl.nad.findings import quote as _q
from multusctl.nad.ipam import PATH_SEPARATORS, check_ipam
from multusctl.nad.plugins import check_plugin

__all__ = [
    "API_VERSION",
    "KIND",
    "LOAD_FATAL_CHECKS",
    "RESOURCE_NAME_ANNOTATION",
    "Finding",
    "NadReport",
    "cross_check",
    "validate_config",
    "validate_nad",
]

API_VERSION = "k8s.cni.cncf.io/v1"
KIND = "NetworkAttachmentDefinition"
RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"
DEFAULT_CONF_DIR = "/etc/cni/multus/net.d"
#: Check ids whose errors upstream's own NAD loading (NAD-02/NAD-04, libcni) also refuses:
#: bad JSON, neither conf nor conflist, a missing / non-string / path-like ``type``. A plugin
#: that wants upstream behaviour fails only on these and logs every other finding.
LOAD_FATAL_CHECKS = frozenset({"json", "conf-shape", "type"})
LABEL_MAX = 63
SUBDOMAIN_MAX = 253

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1123_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z"
)
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_CNI_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*\Z")
_NOT_LABEL_CHARS = re.compile(r"[^a-z0-9-]+")
_SPEC_KEYS = frozenset({"config"})
_SUPPORTED_TEXT = ", ".join(SUPPORTED_VERSIONS)


def validate_nad(
    obj: object,
    source: str,
    *,
    bin_dirs: Sequence[str] | None = None,
    strict: bool = False,
) -> NadReport:
    """Check one NAD object (already parsed from YAML/JSON or read from the API).

    ``source`` labels the findings (``file.yaml:2`` or ``ns/name``). With ``bin_dirs``,
    every plugin and IPAM type must exist there as an executable: a warning, or an error
    with ``strict``. Never raises for any input shape.
    """
    c = Collector(source)
    if not isinstance(obj, dict):
        c.error("object", "", f"a NAD must be an object (mapping), got {_kind(obj)}")
        return NadReport(source, None, None, tuple(c.findings))
    _check_type_meta(c, obj)
    name, namespace, annotations = _check_metadata(c, obj.get("metadata"))
    has_resource = isinstance(annotations, dict) and RESOURCE_NAME_ANNOTATION in annotations
    _check_spec(c, obj, name, bin_dirs=bin_dirs, strict=strict, has_resource=has_resource)
    return NadReport(source, namespace, name, tuple(c.findings), tuple(c.ranges))


def validate_config(
    config_text: str | bytes,
    *,
    source: str = "",
    nad_name: str | None = None,
    bin_dirs: Sequence[str] | None = None,
    strict: bool = False,
    has_resource: bool = False,
) -> list[Finding]:
    """Check only a ``spec.config`` text (conf or conflist JSON), as the plugin loads it.

    Paths are relative to the config (``ipam.subnet``; ``""`` is the config as a whole).
    With ``nad_name`` a differing CNI ``name`` is reported; ``has_resource`` says the NAD
    carries a resourceName annotation (device plugins such as sriov need it).
    """
    c = Collector(source)
    if isinstance(config_text, bytes):
        try:
            config_text = config_text.decode()
        except UnicodeDecodeError as err:
            c.error("json", "", f"config is not UTF-8 text ({err.reason}); store it as UTF-8")
            return c.findings
    _check_config(c, config_text, "", nad_name, bin_dirs, strict=strict,
                  has_resource=has_resource)
    return c.findings


def cross_check(reports: Iterable[NadReport]) -> list[Finding]:
    """Warn about IPAM pools of different objects that overlap (one warning per pool).

    The warning sits on the later object (in address order) and names the earlier one.
    Sort-and-sweep, so 10,000 NADs cost a sort, not 50 million comparisons.
    """
    ranges = sorted(
        (r for report in reports for r in report.ranges),
        key=lambda r: (r.version, r.first, r.last),
    )
    out: list[Finding] = []
    best: IpRange | None = None  # the pool reaching furthest so far
    other: IpRange | None = None  # the furthest one from an object other than best's
    for r in ranges:
        if best is not None and best.version != r.version:
            best = other = None
        if best is not None:
            hit = best if best.object != r.object else other
            if hit is not None and hit.last >= r.first:
                out.append(
                    Finding(
                        WARNING, r.object, r.path, "ipam-overlap",
                        f"IPAM range {r.text} overlaps {hit.text} of {hit.object} at "
                        f"{hit.path}; pods on both networks can get the same address, use "
                        "disjoint ranges unless both NADs are the same network",
                    )
                )
        if best is None or r.last > best.last:
            if best is not None and best.object != r.object:
                other = best
            best = r
        elif r.object != best.object and (other is None or r.last > other.last):
            other = r
    return out


# --- object level -------------------------------------------------------------------------


def _check_type_meta(c: Collector, obj: dict[str, Any]) -> None:
    api_version = obj.get("apiVersion")
    if api_version != API_VERSION:
        if api_version is None:
            msg = f"apiVersion is missing; set it to {API_VERSION}"
        else:
            msg = f"apiVersion {_q(api_version)} is not {API_VERSION}; set it to {API_VERSION}"
        c.error("api-version", "apiVersion", msg)
    kind = obj.get("kind")
    if kind != KIND:
        if kind is None:
            msg = f"kind is missing; set it to {KIND}"
        else:
            msg = f"kind {_q(kind)} is not {KIND}; set it to {KIND} (case matters)"
        c.error("kind", "kind", msg)


def _check_metadata(c: Collector, meta: object) -> tuple[str | None, str | None, object]:
    if meta is None:
        c.error("name", "metadata.name", "metadata.name is missing; every NAD needs a name")
        return None, None, None
    if not isinstance(meta, dict):
        c.error("object", "metadata", f"metadata must be an object, got {_kind(meta)}")
        return None, None, None
    name = meta.get("name")
    if name is None or name == "":
        c.error("name", "metadata.name", "metadata.name is missing; every NAD needs a name")
        name = None
    elif not isinstance(name, str):
        c.error("name", "metadata.name", f"metadata.name must be a string, got {_kind(name)}")
        name = None
    else:
        _dns_label(c, name, "metadata.name", "name")
    namespace = meta.get("namespace")
    if namespace is not None and namespace != "":
        if not isinstance(namespace, str):
            c.error("namespace", "metadata.namespace",
                    f"metadata.namespace must be a string, got {_kind(namespace)}")
            namespace = None
        else:
            _dns_label(c, namespace, "metadata.namespace", "namespace")
    else:
        namespace = None
    annotations = meta.get("annotations")
    if annotations is not None:
        _check_annotations(c, annotations)
    return name, namespace, annotations


def _dns_label(c: Collector, value: str, path: str, what: str) -> None:
    check = "name" if what == "name" else "namespace"
    if len(value) > LABEL_MAX:
        c.error(
            check, path,
            f"{what} {_q(value)} is {len(value)} characters, more than the {LABEL_MAX} a DNS-1123 "
            "label allows; shorten it",
        )
    elif not _DNS1123_LABEL.match(value):
        hint = _NOT_LABEL_CHARS.sub("-", value.lower()).strip("-")[:LABEL_MAX] or "net1"
        c.error(
            check, path,
            f"{what} {_q(value)} is not a DNS-1123 label (lower-case letters, digits and '-', "
            f"starting and ending with a letter or digit); rename it, e.g. {_q(hint)}",
        )


def _check_annotations(c: Collector, annotations: object) -> None:
    if not isinstance(annotations, dict):
        c.error("object", "metadata.annotations",
                f"metadata.annotations must be a mapping, got {_kind(annotations)}")
        return
    for key, value in annotations.items():
        if not isinstance(value, str):
            c.error(
                "object", join("metadata.annotations", str(key)),
                f"annotation values must be strings, got {_kind(value)}; quote the value",
            )
    value = annotations.get(RESOURCE_NAME_ANNOTATION)
    if not isinstance(value, str):
        return
    path = join("metadata.annotations", RESOURCE_NAME_ANNOTATION)
    example = "e.g. intel.com/intel_sriov_netdevice"
    if "/" not in value:
        if not value:
            c.error("resource-name", path,
                    f"resourceName is empty; give <vendor domain>/<resource>, {example}")
        else:
            c.warning(
                "resource-name", path,
                f"resourceName {_q(value)} has no vendor domain, so it only matches a DRA device "
                f"class; device-plugin resources are <vendor domain>/<resource>, {example}",
            )
        return
    domain, _, resource = value.partition("/")
    problem = ""
    if "/" in resource:
        problem = "has more than one '/'"
    elif not domain or len(domain) > SUBDOMAIN_MAX or not _DNS1123_SUBDOMAIN.match(domain):
        problem = f"has vendor domain {_q(domain)}, which is not a DNS-1123 subdomain"
    elif not resource or len(resource) > LABEL_MAX or not _QUALIFIED_NAME.match(resource):
        problem = (f"has resource part {_q(resource)}, which is not a name of at most {LABEL_MAX} "
                   "letters, digits, '-', '_' or '.'")
    if problem:
        c.error("resource-name", path,
                f"resourceName {_q(value)} {problem}; use <vendor domain>/<resource>, {example}")


# --- spec ---------------------------------------------------------------------------------


def _check_spec(
    c: Collector,
    obj: dict[str, Any],
    name: str | None,
    *,
    bin_dirs: Sequence[str] | None,
    strict: bool,
    has_resource: bool,
) -> None:
    spec = obj.get("spec")
    config: object = None
    if spec is not None:
        if not isinstance(spec, dict):
            c.error("spec", "spec", f"spec must be an object, got {_kind(spec)}")
            return
        for key in spec:
            if key not in _SPEC_KEYS:
                c.warning(
                    "spec", join("spec", str(key)),
                    f"spec key {_q(key)} is not part of the NAD schema and the API server "
                    "drops it; move it into spec.config or an annotation",
                )
        config = spec.get("config")
    if config is None or (isinstance(config, str) and not config.strip()):
        shown = name or "<metadata.name>"
        c.warning(
            "empty-spec", "spec.config",
            f"spec.config is empty, so every node must have a CNI config file in confDir "
            f"(default {DEFAULT_CONF_DIR}) whose \"name\" is {_q(shown)}; add spec.config or "
            "make sure that file exists",
        )
        return
    if not isinstance(config, str):
        c.error(
            "spec", "spec.config",
            f"spec.config must be a string holding JSON, got {_kind(config)}; quote the JSON "
            "(config: '{...}') or use a block scalar (config: |)",
        )
        return
    _check_config(c, config, "spec.config", name, bin_dirs, strict=strict,
                  has_resource=has_resource)


def _check_config(
    c: Collector,
    text: str,
    prefix: str,
    nad_name: str | None,
    bin_dirs: Sequence[str] | None,
    *,
    strict: bool,
    has_resource: bool,
) -> None:
    try:
        cfg = json.loads(text, parse_constant=_no_constants)
    except _NotJson as err:
        c.error("json", prefix, f"config is not valid JSON: {err}; write a number or a string")
        return
    except json.JSONDecodeError as err:
        c.error(
            "json", prefix,
            f"config is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}; "
            "fix the JSON (a trailing comma or a missing quote is the usual cause)",
        )
        return
    except RecursionError:
        c.error("json", prefix, "config nests too deeply to parse; flatten it")
        return
    if not isinstance(cfg, dict):
        c.error("json", prefix, f"config must be a JSON object, got {_kind(cfg)}")
        return
    shape = _shape(c, cfg, prefix)
    if shape is None:
        return
    conflist, entries = shape
    list_version = _check_versions(c, cfg, prefix, conflist=conflist)
    _check_name(c, cfg, prefix, nad_name)
    for p_path, plugin in entries:
        if conflist and "cniVersion" in plugin:
            _plugin_version(c, plugin["cniVersion"], join(p_path, "cniVersion"), list_version)
        _check_plugin(c, plugin, p_path, bin_dirs, strict=strict, has_resource=has_resource)


class _NotJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    """Python's json accepts NaN and Infinity; Go's (and so every plugin's) does not."""
    raise _NotJson(f"{name} is not a JSON value")


_Entries = list[tuple[str, dict[str, Any]]]


def _shape(c: Collector, cfg: dict[str, Any], prefix: str) -> tuple[bool, _Entries] | None:
    """Conf vs conflist as upstream decides (NAD-04): ``(is_conflist, [(path, plugin)])``,
    or None when the config is neither."""
    ptype = cfg.get("type")
    if ptype is not None and not isinstance(ptype, str):
        c.error("type", join(prefix, "type"), f"type must be a string (a plugin binary name), got "
                f"{_kind(ptype)}")
        return None
    if ptype:
        if "plugins" in cfg:
            c.warning(
                "conf-shape", join(prefix, "plugins"),
                "config has both \"type\" and \"plugins\"; it is run as a single plugin and "
                "\"plugins\" is ignored, remove one of them",
            )
        return False, [(prefix, cfg)]
    plugins = cfg.get("plugins")
    plugins_path = join(prefix, "plugins")
    if plugins is None:
        c.error(
            "conf-shape", join(prefix, "type"),
            "config has neither \"type\" nor \"plugins\", so it is neither a plugin config nor "
            "a plugin list; add \"type\" (e.g. \"macvlan\") or a \"plugins\" list",
        )
        return None
    if not isinstance(plugins, list):
        c.error("conf-shape", plugins_path, f"plugins must be a list, got {_kind(plugins)}")
        return None
    if not plugins:
        c.error("conf-shape", plugins_path,
                "plugins is empty; a plugin list needs at least one plugin with a \"type\"")
        return None
    out: _Entries = []
    ok = True
    for i, plugin in enumerate(plugins):
        path = join(plugins_path, i)
        if not isinstance(plugin, dict):
            c.error("conf-shape", path, f"each plugin must be an object, got {_kind(plugin)}")
            ok = False
            continue
        t = plugin.get("type")
        if t is None or t == "":
            c.error("type", join(path, "type"),
                    "plugin has no \"type\"; every plugin in a list needs its binary name")
            ok = False
        elif not isinstance(t, str):
            c.error("type", join(path, "type"),
                    f"type must be a string (a plugin binary name), got {_kind(t)}")
            ok = False
        else:
            out.append((path, plugin))
    return (True, out) if ok else None


def _check_versions(c: Collector, cfg: dict[str, Any], prefix: str, *, conflist: bool) -> str:
    version = cfg.get("cniVersion")
    if isinstance(version, str) and version in SUPPORTED_VERSIONS:
        if conflist and "cniVersions" in cfg:
            _check_version_list(c, cfg["cniVersions"], join(prefix, "cniVersions"))
        return version
    path = join(prefix, "cniVersion")
    result = ""
    if version is None or version == "":
        if not (conflist and cfg.get("cniVersions")):
            c.warning(
                "cni-version", path,
                "cniVersion is missing, so plugins treat the config as the legacy 0.1.0; set "
                "it explicitly, e.g. \"1.0.0\"",
            )
    elif not isinstance(version, str):
        c.error("cni-version", path, f"cniVersion must be a string, got {_kind(version)}")
    elif version not in SUPPORTED_VERSIONS:
        c.error("cni-version", path, _unknown_version(version))
    else:
        result = version
    if conflist and "cniVersions" in cfg:
        _check_version_list(c, cfg["cniVersions"], join(prefix, "cniVersions"))
    return result


def _check_version_list(c: Collector, versions: object, path: str) -> None:
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        c.error("cni-version", path, "cniVersions must be a list of version strings")
        return
    unknown = [v for v in versions if v not in SUPPORTED_VERSIONS]
    if versions and len(unknown) == len(versions):
        c.error("cni-version", path,
                f"cniVersions lists no known CNI version; use some of {_SUPPORTED_TEXT}")
    elif unknown:
        c.warning("cni-version", path,
                  f"cniVersions has unknown versions {', '.join(unknown)}, which are ignored")


def _plugin_version(c: Collector, version: object, path: str, list_version: str) -> None:
    if not isinstance(version, str):
        c.error("cni-version", path, f"cniVersion must be a string, got {_kind(version)}")
        return
    if list_version and version and version != list_version:
        c.warning(
            "version-conflict", path,
            f"plugin cniVersion {_q(version)} differs from the list's {_q(list_version)}; the list "
            "version is what every plugin receives, so remove the plugin's cniVersion",
        )
    elif version and version not in SUPPORTED_VERSIONS:
        c.error("cni-version", path, _unknown_version(version))


def _check_name(c: Collector, cfg: dict[str, Any], prefix: str, nad_name: str | None) -> None:
    name = cfg.get("name")
    if name is None or name == "" or (name == nad_name and _CNI_NAME.match(name)):
        return  # injected from metadata.name (NAD-02), or equal to it
    path = join(prefix, "name")
    if not isinstance(name, str):
        c.error("name-mismatch", path, f"name must be a string, got {_kind(name)}")
        return
    if not _CNI_NAME.match(name):
        c.warning(
            "name-mismatch", path,
            f"CNI network name {_q(name)} has characters the CNI spec does not allow (only "
            "letters, digits, '_', '.' and '-'); rename it",
        )
    if nad_name is not None and name != nad_name:
        c.warning(
            "name-mismatch", path,
            f"CNI name {_q(name)} differs from metadata.name {_q(nad_name)} (the standard strongly "
            "recommends they match); use the same name or drop it from the config",
        )


def _check_plugin(
    c: Collector,
    plugin: dict[str, Any],
    path: str,
    bin_dirs: Sequence[str] | None,
    *,
    strict: bool,
    has_resource: bool,
) -> None:
    ptype = plugin["type"]
    typed_ok = True
    if "/" in ptype or "\\" in ptype:
        c.error(
            "type", join(path, "type"),
            f"type {_q(ptype)} contains a path separator; give only the binary name, found in "
            "the CNI bin dir",
        )
        typed_ok = False
    caps = plugin.get("capabilities")
    if caps is not None:
        _check_capabilities(c, caps, join(path, "capabilities"))
    if "ipam" in plugin:
        check_ipam(c, plugin["ipam"], join(path, "ipam"), caps)
    check_plugin(c, plugin, path, has_resource=has_resource)
    if bin_dirs is not None:
        if typed_ok:
            _check_binary(c, ptype, join(path, "type"), bin_dirs, strict=strict)
        ipam = plugin.get("ipam")
        if isinstance(ipam, dict):
            ipam_type = ipam.get("type")
            if isinstance(ipam_type, str) and ipam_type and \
                    not any(sep in ipam_type for sep in PATH_SEPARATORS):
                _check_binary(c, ipam_type, join(join(path, "ipam"), "type"), bin_dirs,
                              strict=strict)


def _check_capabilities(c: Collector, caps: object, path: str) -> None:
    if not isinstance(caps, dict):
        c.error("capabilities", path,
                f"capabilities must be an object of name: true/false, got {_kind(caps)}")
        return
    for key, value in caps.items():
        if not isinstance(value, bool):
            c.error(
                "capabilities", join(path, str(key)),
                f"capability {_q(key)} must be true or false, got {_kind(value)} {_q(value)}; "
                "write it without quotes",
            )


def _check_binary(
    c: Collector, name: str, path: str, bin_dirs: Sequence[str], *, strict: bool
) -> None:
    for d in bin_dirs:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return
    c.add(
        ERROR if strict else WARNING, "binary", path,
        f"plugin {_q(name)} is not an executable in {os.pathsep.join(bin_dirs)}; install it "
        "on every node or fix the type",
    )


def _unknown_version(version: str) -> str:
    return f"cniVersion {_q(version)} is not a known CNI version; use one of {_SUPPORTED_TEXT}"
