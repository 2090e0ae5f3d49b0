"""Build the Multus configuration (``00-multus.conf``) from the master CNI config.

Pure: values in, text out. The caller lists the directory, reads the master file and
writes the result (``multusctl.installer``); nothing here touches the filesystem.

Shape and rules follow upstream's thin entrypoint (v4.2.1, ENT4-06…09) with the HEAD
fix for versions above 1.0.0 (HEAD-13):

* the master is the lexicographically first ``.conf`` / ``.conflist`` / ``.json`` of the
  directory, skipping our own outputs, unless a file name is given explicitly;
* the top-level ``cniVersion`` is the master's (or ``--cni-version`` when forced);
* a ``cniVersion`` >= 1.0.0 produces a conflist named ``00-multus.conflist``;
* the master config is embedded as ``delegates[0]`` losslessly: key order, duplicate
  keys, number spelling and string escapes of the original survive (only the
  whitespace goes, and ``cniVersion`` when ``force_cni_version`` replaces it).

The text is deterministic: the same master bytes and options give identical bytes,
which is what the watch loop's content comparison relies on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from multusctl.cni import version as cniversion
from multusctl.errors import DecodeError, IncompatibleVersion, InvalidConfig

#: File name of the generated config for cniVersion < 1.0.0.
CONF_NAME = "00-multus.conf"
#: File name of the generated config for cniVersion >= 1.0.0.
CONFLIST_NAME = "00-multus.conflist"
#: Names we generate; never chosen as the master.
OWN_OUTPUTS = (CONF_NAME, CONFLIST_NAME)
#: Extensions of candidate master files (the set container runtimes load, via libcni).
MASTER_EXTENSIONS = (".conf", ".conflist", ".json")
#: Network name of the generated config unless ``override_network_name`` is set.
DEFAULT_NETWORK_NAME = "multus-cni-network"
#: Accepted ``--multus-log-level`` values (case-insensitive, written lower-case).
LOG_LEVELS = ("debug", "error", "panic", "verbose")


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateOptions:
    """Options of the generated config; defaults are the v4.2 entrypoint's CLI defaults."""

    cni_version: str = ""
    """``--cni-version``: must equal the master's cniVersion unless forced. Default: unset."""

    force_cni_version: bool = False
    """``--force-cni-version``: write ``cni_version`` into the config and the delegate.
    Default: false."""

    override_network_name: bool = False
    """``--override-network-name``: use the master's ``name``. Default: false
    (``multus-cni-network``)."""

    namespace_isolation: bool = False
    """``--namespace-isolation``: emit ``"namespaceIsolation": true``. Default: false."""

    global_namespaces: str = ""
    """``--global-namespaces``: comma-separated namespaces, emitted as given. Default: unset."""

    log_to_stderr: bool = True
    """``--multus-log-to-stderr``: false emits ``"logToStderr": false``. Default: true."""

    log_level: str = ""
    """``--multus-log-level``: one of debug/error/panic/verbose. Default: unset."""

    log_file: str = ""
    """``--multus-log-file``: plugin log file path on the host. Default: unset."""

    additional_bin_dir: str = ""
    """``--additional-bin-dir``: emitted as ``binDir``. Default: unset."""

    multus_cni_conf_dir: str = "/host/etc/cni/multus/net.d"
    """``--multus-cni-conf-dir``: emitted as ``cniConf`` like upstream (the plugin does not
    read that key, see BUG-03). Default: ``/host/etc/cni/multus/net.d``."""

    readiness_indicator_file: str = ""
    """``--readiness-indicator-file``: emitted as ``readinessindicatorfile``. Default: unset."""

    kubeconfig: str = "/etc/cni/net.d/multus.d/multus.kubeconfig"
    """``--multus-kubeconfig-file-host``: the kubeconfig path as the plugin sees it on the
    host. Default: ``/etc/cni/net.d/multus.d/multus.kubeconfig``; empty omits the key."""


@dataclass(frozen=True, slots=True)
class GeneratedConfig:
    """The generated file: where it goes (a bare file name) and its exact text."""

    filename: str
    """``00-multus.conf`` or ``00-multus.conflist``."""
    text: str
    """The file content, ending with a newline."""
    cni_version: str
    """The top-level cniVersion written."""
    stale_filename: str
    """Our other output name, which must not stay next to ``filename``."""
    notes: tuple[str, ...] = ()
    """Informational messages for the caller's log (as upstream prints them)."""


def select_master(names: Iterable[str], explicit: str = "") -> str | None:
    """Choose the master config among the file names of a directory listing.

    ``explicit`` (``--multus-master-cni-file-name``) wins when it is present in the
    listing. Otherwise the lexicographically first name with a CNI config extension that
    is not one of our outputs. ``None`` when there is no candidate (yet).
    """
    listing = set(names)
    if explicit:
        return explicit if explicit in listing else None
    candidates = sorted(
        n for n in listing if n.endswith(MASTER_EXTENSIONS) and n not in OWN_OUTPUTS
    )
    return candidates[0] if candidates else None


def output_filename(cni_version: str) -> str:
    """``00-multus.conflist`` for cniVersion >= 1.0.0, else ``00-multus.conf``."""
    return CONFLIST_NAME if cniversion.ge(cni_version, "1.0.0") else CONF_NAME


def generate(master: bytes, options: GenerateOptions, master_path: str = "") -> GeneratedConfig:
    """Build the Multus config for ``master`` (the master file's bytes).

    ``master_path`` only names the file in messages. Raises ``DecodeError`` for bytes that
    are not a JSON object (for example a file caught mid-write), ``InvalidConfig`` or
    ``IncompatibleVersion`` for configs and options that can never work.
    """
    where = f'master CNI config file "{master_path}"' if master_path else "master CNI config"
    parsed = _parse_master(master, where)
    notes: list[str] = []

    raw_version = parsed.get("cniVersion")
    if raw_version is None:
        raise InvalidConfig(f"cannot get cniVersion in {where}")
    if not isinstance(raw_version, str):
        raise InvalidConfig(f"cniVersion in {where} must be a string, got {raw_version!r}")

    tree = _lossless_tree(master)
    if options.force_cni_version:
        if not options.cni_version:
            raise InvalidConfig("--force-cni-version needs --cni-version")
        cni_version = options.cni_version
        tree = _replace_top_level(tree, "cniVersion", cni_version)
        notes.append(f'force CNI version to "{cni_version}"')
    else:
        if options.cni_version and options.cni_version != raw_version:
            raise IncompatibleVersion(
                f'Multus cni version is "{options.cni_version}" while master plugin cni '
                f'version is "{raw_version}"'
            )
        cni_version = raw_version
    filename = output_filename(cni_version)

    name = DEFAULT_NETWORK_NAME
    if options.override_network_name:
        master_name = parsed.get("name")
        if not isinstance(master_name, str) or not master_name:
            raise InvalidConfig(f"cannot get name in {where}")
        name = master_name
        notes.append(f'master plugin name is overridden to "{name}"')

    optional = _optional_lines(_capabilities(parsed, where), options)
    delegate = _emit(tree)
    if filename == CONFLIST_NAME:
        text = _render_conflist(cni_version, name, optional, delegate)
        stale = CONF_NAME
    else:
        text = _render_conf(cni_version, name, optional, delegate)
        stale = CONFLIST_NAME
    return GeneratedConfig(
        filename=filename,
        text=text,
        cni_version=cni_version,
        stale_filename=stale,
        notes=tuple(notes),
    )


# --- rendering ------------------------------------------------------------------------


def _optional_lines(
    capabilities: dict[str, bool], options: GenerateOptions
) -> list[tuple[str, str]]:
    """The optional ``key: JSON value`` lines, in upstream's template order."""
    level = options.log_level.lower()
    if level and level not in LOG_LEVELS:
        raise InvalidConfig(
            "Log levels should be one of: debug/verbose/error/panic, did not understand: "
            f'"{options.log_level}"'
        )
    optional: list[tuple[str, str]] = []
    if capabilities:
        optional.append(
            ("capabilities", json.dumps(capabilities, sort_keys=True, separators=(",", ":")))
        )
    if options.namespace_isolation:
        optional.append(("namespaceIsolation", "true"))
    if options.global_namespaces:
        optional.append(("globalNamespaces", _str(options.global_namespaces)))
    if not options.log_to_stderr:
        optional.append(("logToStderr", "false"))
    if level:
        optional.append(("logLevel", _str(level)))
    for key, value in (
        ("logFile", options.log_file),
        ("binDir", options.additional_bin_dir),
        ("cniConf", options.multus_cni_conf_dir),
        ("readinessindicatorfile", options.readiness_indicator_file),
        ("kubeconfig", options.kubeconfig),
    ):
        if value:
            optional.append((key, _str(value)))
    return optional


def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _render_conf(
    cni_version: str, name: str, optional: list[tuple[str, str]], delegate: str
) -> str:
    pad = " " * 8
    lines = ["{", f'{pad}"cniVersion": {_str(cni_version)},', f'{pad}"name": {_str(name)},']
    lines.append(f'{pad}"type": "multus",')
    lines.extend(f'{pad}"{key}": {value},' for key, value in optional)
    lines.append(f'{pad}"delegates": [')
    lines.append(f"{pad * 2}{delegate}")
    lines.append(f"{pad}]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render_conflist(
    cni_version: str, name: str, optional: list[tuple[str, str]], delegate: str
) -> str:
    top, inner = " " * 4, " " * 8
    lines = [
        "{",
        f'{top}"cniVersion": {_str(cni_version)},',
        f'{top}"name": {_str(name)},',
        f'{top}"plugins": [ {{',
        f'{inner}"type": "multus",',
    ]
    lines.extend(f'{inner}"{key}": {value},' for key, value in optional)
    lines.append(f'{inner}"delegates": [')
    lines.append(f"{inner}{top}{delegate}")
    lines.append(f"{inner}]")
    lines.append(f"{top}}}]")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- master parsing -------------------------------------------------------------------


def _parse_master(master: bytes, where: str) -> dict[str, Any]:
    try:
        text = master.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"cannot read {where}: not UTF-8: {err}") from err
    if not text.strip():
        raise DecodeError(f"cannot read {where}: the file is empty")
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError as err:
        raise DecodeError(f"cannot read {where} as JSON: {err}") from err
    if not isinstance(parsed, dict):
        raise DecodeError(f"cannot read {where}: expected a JSON object")
    return parsed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _capabilities(parsed: dict[str, Any], where: str) -> dict[str, bool]:
    """Merge the master's capabilities: every plugin of a conflist, else the top level."""
    merged: dict[str, bool] = {}
    sources: list[tuple[str, Any]] = []
    plugins = parsed.get("plugins")
    if "plugins" in parsed:
        if not isinstance(plugins, list):
            raise InvalidConfig(f"{where}: plugins: expected a list")
        for index, plugin in enumerate(plugins):
            if not isinstance(plugin, dict):
                raise InvalidConfig(f"{where}: plugins[{index}]: expected an object")
            if "capabilities" in plugin:
                sources.append((f"plugins[{index}].capabilities", plugin["capabilities"]))
    elif "capabilities" in parsed:
        sources.append(("capabilities", parsed["capabilities"]))
    for path, caps in sources:
        if not isinstance(caps, dict):
            raise InvalidConfig(f"{where}: {path}: expected an object")
        for key, value in caps.items():
            if not isinstance(value, bool):
                raise InvalidConfig(f"{where}: {path}.{key}: expected a boolean")
            merged[key] = value
    return merged


# --- lossless JSON --------------------------------------------------------------------
#
# The delegate is re-emitted from a tree that keeps what ``json.loads`` would normally
# normalise away: object members stay an ordered list of pairs (duplicates included) and
# numbers keep their original spelling. Strings are re-encoded, which may change escapes
# (``\u00e9`` becomes ``é``) but never the value.


class _JsonNumber(str):
    """A number token exactly as written."""

    __slots__ = ()


class _JsonObject(list[tuple[str, Any]]):
    """Object members in document order."""


def _lossless_tree(master: bytes) -> Any:
    return json.loads(
        master.decode("utf-8"),
        object_pairs_hook=_JsonObject,
        parse_float=_JsonNumber,
        parse_int=_JsonNumber,
        parse_constant=_reject_constant,
    )


def _replace_top_level(tree: Any, key: str, value: Any) -> Any:
    assert isinstance(tree, _JsonObject)  # noqa: S101 - _parse_master checked the type
    return _JsonObject((k, value if k == key else v) for k, v in tree)


def _emit(node: Any) -> str:
    if isinstance(node, _JsonObject):
        return "{" + ",".join(f"{_str(k)}:{_emit(v)}" for k, v in node) + "}"
    if isinstance(node, list):
        return "[" + ",".join(_emit(v) for v in node) + "]"
    if isinstance(node, _JsonNumber):
        return str.__str__(node)
    if isinstance(node, str):
        return _str(node)
    if node is True:
        return "true"
    if node is False:
        return "false"
    if node is None:
        return "null"
    raise TypeError(f"unexpected JSON node {node!r}")  # pragma: no cover
