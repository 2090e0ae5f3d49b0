"""Delegate execution with libcni semantics (stdlib only).

This is the part of libcni (containernetworking/cni ``libcni`` + ``pkg/invoke``) that a
meta-plugin needs: find a plugin binary, build its stdin (``name``/``cniVersion``
injection, ``prevResult``, capability-filtered ``runtimeConfig``), run it with a timeout,
parse its result or CNI error, chain conflists, and keep libcni's result cache so DEL,
CHECK and GC can find what ADD did.

Delegate configs are raw: they come in as bytes, are decoded into ordered dicts only to
inject the documented keys, and every other key is passed through untouched.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import select
import selectors
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multusctl import fsutil
from multusctl.cni import result as cniresult
from multusctl.cni import version as cniversion
from multusctl.errors import CniCode, DecodeError, DelegateError, InvalidConfig, MultusError

#: Default per-call timeout for a delegate plugin, in seconds. Upstream has none; a hung
#: delegate then holds the pod sandbox forever. Overridable per Multus config.
DEFAULT_TIMEOUT = 120.0

#: How often and how long to retry an exec that fails with ETXTBSY (as libcni does).
TEXT_BUSY_RETRIES = 5
TEXT_BUSY_DELAY = 1.0

StderrSink = Callable[[bytes], None]

#: What one write to a delegate's stdin may hold: poll() reports a pipe writable once it
#: can take PIPE_BUF bytes without blocking.
_PIPE_CHUNK = getattr(select, "PIPE_BUF", 512)

#: Told about every delegate plugin run: ``(plugin_type, command, seconds, ok)``. Called
#: once per plugin executed, so a conflist reports each plugin of its chain separately.
#: Only runs of a binary that was found are reported (the type label stays bounded by what
#: is installed); the call is made in the requesting thread and must not raise.
DelegateObserver = Callable[[str, str, float, bool], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeConf:
    """What the runtime knows about one attachment (libcni ``RuntimeConf``)."""

    container_id: str
    netns: str
    ifname: str
    args: tuple[tuple[str, str], ...] = ()
    capability_args: Mapping[str, Any] = field(default_factory=dict)

    def cni_args(self) -> str:
        return ";".join(f"{k}={v}" for k, v in self.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class Executor:
    """How delegates are run: search path, environment, timeout, cache dir, stderr sink."""

    bin_dirs: tuple[str, ...]
    base_env: Mapping[str, str]
    cache_dir: str
    timeout: float = DEFAULT_TIMEOUT
    stderr_sink: StderrSink | None = None
    #: THK-17: run delegates chrooted here; the binary is found in *our* filesystem first,
    #: so the bin dir must be mounted at the same path inside the chroot.
    chroot_dir: str = ""
    #: Timing hook (the thick daemon's per-delegate-type histogram); None costs nothing.
    observer: DelegateObserver | None = None


@dataclass(frozen=True, slots=True)
class NetworkList:
    """A delegate network as libcni sees it: one plugin (a conf) or a chain (a conflist)."""

    name: str
    cni_version: str
    plugins: tuple[dict[str, Any], ...]
    raw: bytes
    is_list: bool
    disable_check: bool = False
    disable_gc: bool = False


# --------------------------------------------------------------------------- parsing


def decode_object(raw: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON object or raise :class:`DecodeError` naming ``what``."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"{what}: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError(f"{what}: expected a JSON object")
    return data


def _pick_version(data: Mapping[str, Any]) -> str:
    """libcni's rule: ``cniVersions`` (1.1.0+) wins with the highest version we support."""
    versions = data.get("cniVersions")
    if isinstance(versions, list):
        usable = [v for v in versions if isinstance(v, str) and cniversion.is_supported(v)]
        if usable:
            return max(usable, key=cniversion.parse)
    value = data.get("cniVersion", "")
    return value if isinstance(value, str) else ""


def load_network(raw: bytes) -> NetworkList:
    """Read a delegate config: a conf (top-level ``type``) or a conflist (``plugins``)."""
    data = decode_object(raw, "error in converting the raw bytes to conf")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise InvalidConfig("delegate config: name must be a string")
    cni_version = _pick_version(data)
    plugin_type = data.get("type")
    if isinstance(plugin_type, str) and plugin_type:
        return NetworkList(name, cni_version, (data,), raw, is_list=False)
    plugins = data.get("plugins")
    if not isinstance(plugins, list):
        raise InvalidConfig("delegate must have the 'type' or 'plugin' field")
    if not plugins:
        raise InvalidConfig("a plugin delegate must have at least one plugin")
    checked: list[dict[str, Any]] = []
    for idx, plugin in enumerate(plugins):
        if not isinstance(plugin, dict) or not isinstance(plugin.get("type"), str) or not (
            plugin.get("type")
        ):
            raise InvalidConfig(
                f"a plugin delegate must have the 'type' field (plugins[{idx}])"
            )
        checked.append(plugin)
    return NetworkList(
        name,
        cni_version,
        tuple(checked),
        raw,
        is_list=True,
        disable_check=data.get("disableCheck") is True,
        disable_gc=data.get("disableGC") is True,
    )


def check_type(plugin_type: str) -> None:
    """A plugin ``type`` is a file name; anything that could escape the search path is refused."""
    if not plugin_type:
        raise InvalidConfig("delegate plugin type is empty")
    if "/" in plugin_type or "\\" in plugin_type or plugin_type in {".", ".."}:
        raise InvalidConfig(
            f'invalid plugin type "{plugin_type}": a type is a file name, '
            "not a path (path separators are not allowed)"
        )


def find_plugin(plugin_type: str, dirs: Sequence[str]) -> str:
    """Find ``plugin_type`` in ``dirs`` in order; a type with a path separator is refused."""
    check_type(plugin_type)
    for directory in dirs:
        candidate = os.path.join(directory, plugin_type)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise MultusError(
        f'failed to find plugin "{plugin_type}" in path [{" ".join(dirs)}]',
        code=CniCode.PLUGIN_NOT_AVAILABLE,
    )


def build_plugin_conf(
    plugin: Mapping[str, Any],
    *,
    name: str,
    cni_version: str,
    prev_result: Mapping[str, Any] | None,
    rt: RuntimeConf | None,
) -> dict[str, Any]:
    """libcni ``buildOneConfig``: inject name, cniVersion, prevResult and runtimeConfig."""
    conf = dict(plugin)
    conf["name"] = name
    conf["cniVersion"] = cni_version
    if prev_result is not None:
        conf["prevResult"] = dict(prev_result)
    if rt is not None:
        runtime = capability_runtime_config(plugin, rt.capability_args)
        if runtime:
            conf["runtimeConfig"] = runtime
    return conf


def capability_runtime_config(
    plugin: Mapping[str, Any], capability_args: Mapping[str, Any]
) -> dict[str, Any]:
    """Only capabilities the plugin declares (``"capabilities": {key: true}``) are passed."""
    caps = plugin.get("capabilities")
    if not isinstance(caps, dict):
        return {}
    return {key: value for key, value in capability_args.items() if caps.get(key) is True}


def undeclared_capabilities(
    network: NetworkList, capability_args: Mapping[str, Any]
) -> list[str]:
    """Capability args that no plugin of ``network`` declares (for ``strictCapabilities``)."""
    declared: set[str] = set()
    for plugin in network.plugins:
        caps = plugin.get("capabilities")
        if isinstance(caps, dict):
            declared.update(k for k, v in caps.items() if v is True)
    return sorted(k for k in capability_args if k not in declared)


# --------------------------------------------------------------------------- exec


def _plugin_env(executor: Executor, command: str, rt: RuntimeConf | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in executor.base_env.items()
        if k
        not in {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_ARGS", "CNI_IFNAME", "CNI_PATH"}
    }
    env["CNI_COMMAND"] = command
    env["CNI_PATH"] = ":".join(executor.bin_dirs)
    if rt is not None:
        env["CNI_CONTAINERID"] = rt.container_id
        env["CNI_NETNS"] = rt.netns
        env["CNI_ARGS"] = rt.cni_args()
        env["CNI_IFNAME"] = rt.ifname
    return env


def exec_plugin(
    executor: Executor,
    plugin_type: str,
    command: str,
    stdin: Mapping[str, Any],
    rt: RuntimeConf | None,
) -> bytes:
    """Run one plugin and return its stdout; raise :class:`DelegateError` on failure."""
    path = find_plugin(plugin_type, executor.bin_dirs)
    observer = executor.observer
    started = time.monotonic() if observer is not None else 0.0
    ok = False
    try:
        payload = json.dumps(stdin).encode()
        env = _plugin_env(executor, command, rt)
        proc = _run_with_retry(
            path, plugin_type, payload, env, timeout=executor.timeout, command=command,
            chroot_dir=executor.chroot_dir,
        )
        if proc.stderr and executor.stderr_sink is not None:
            executor.stderr_sink(proc.stderr)
        if proc.returncode != 0:
            raise plugin_failure(plugin_type, proc.returncode, proc.stdout, proc.stderr)
        ok = True
        return proc.stdout
    finally:
        if observer is not None:
            observer(plugin_type, command, time.monotonic() - started, ok)


def _chroot_into(directory: str) -> Callable[[], None]:
    def enter() -> None:  # runs in the forked child, before exec
        os.chroot(directory)
        os.chdir("/")

    return enter


def _run_with_retry(
    path: str, plugin_type: str, payload: bytes, env: Mapping[str, str], *, timeout: float,
    command: str, chroot_dir: str = "",
) -> subprocess.CompletedProcess[bytes]:
    """Run the plugin; retry an exec that hits "text file busy" (ETXTBSY), as libcni does.

    Every attempt is a fresh process (upstream's chroot path re-ran a started command,
    BUG-15)."""
    attempt = 0
    preexec = _chroot_into(chroot_dir) if chroot_dir else None
    while True:
        try:
            return run_process([path], payload, env, timeout=timeout or None, preexec=preexec)
        except subprocess.TimeoutExpired:
            raise DelegateError(
                f"netplugin {plugin_type} timed out after {timeout:g}s ({command})",
                code=CniCode.TRY_AGAIN_LATER,
                plugin=plugin_type,
            ) from None
        except subprocess.SubprocessError as exc:  # preexec_fn (chroot) failed
            raise DelegateError(
                f"netplugin failed: cannot enter chroot {chroot_dir}: {exc}", plugin=plugin_type
            ) from None
        except OSError as exc:
            if exc.errno == errno.ETXTBSY and attempt < TEXT_BUSY_RETRIES:
                attempt += 1
                time.sleep(TEXT_BUSY_DELAY)
                continue
            raise DelegateError(
                f"netplugin failed with no error message: {exc}", plugin=plugin_type
            ) from None


def run_process(
    argv: list[str], payload: bytes, env: Mapping[str, str], *, timeout: float | None,
    preexec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run(argv, input=payload, capture_output=True, timeout=timeout)``, with
    the child's exit watched through a pidfd rather than polled.

    ``subprocess`` reaps a child under a timeout by sleeping 0.5, 1, 2, ... ms between
    ``waitpid`` calls, which adds about half a millisecond to every delegate run. Here stdin,
    stdout, stderr and the pidfd share one ``poll``: the result is there as soon as the
    process has exited and its pipes are drained. Without pidfds (Linux < 5.3) the exit is
    waited for as ``subprocess`` does. Same semantics otherwise: the timeout covers the whole
    run, the child is killed and reaped on timeout (``subprocess.TimeoutExpired``) or on any
    other error, and spawn errors (``OSError``, ``SubprocessError``) come from ``Popen``.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, preexec_fn=preexec,  # noqa: PLW1509 - only for chrootDir (THK-17)
    )
    with proc:
        try:
            stdout, stderr = _exchange(proc, payload, deadline)
        except BaseException:
            proc.kill()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _exchange(
    proc: subprocess.Popen[bytes], payload: bytes, deadline: float | None
) -> tuple[bytes, bytes]:
    """Feed stdin, drain stdout and stderr, and reap the child, all before ``deadline``."""
    assert proc.stdin is not None  # noqa: S101 - PIPE
    assert proc.stdout is not None  # noqa: S101 - PIPE
    assert proc.stderr is not None  # noqa: S101 - PIPE
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = -1
    out: list[bytes] = []
    err: list[bytes] = []
    try:
        with selectors.PollSelector() as sel:
            if payload:
                sel.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
            sel.register(proc.stdout, selectors.EVENT_READ, out)
            sel.register(proc.stderr, selectors.EVENT_READ, err)
            if pidfd >= 0:
                sel.register(pidfd, selectors.EVENT_READ)
            _pump(sel, proc, memoryview(payload), deadline)
        try:  # with a pidfd the child has exited already: this only reaps it
            proc.wait(None if pidfd >= 0 or deadline is None
                      else max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            raise subprocess.TimeoutExpired(proc.args, _timeout_of(deadline)) from None
    finally:
        if pidfd >= 0:
            os.close(pidfd)
        for fh in (proc.stdin, proc.stdout, proc.stderr):
            fh.close()
    return b"".join(out), b"".join(err)


def _pump(
    sel: selectors.BaseSelector, proc: subprocess.Popen[bytes], data: memoryview,
    deadline: float | None,
) -> None:
    """Serve the registered ends until none is left: stdin written, the output pipes at
    EOF (their chunks appended to the key's list), the pidfd readable (exited)."""
    sent = 0
    while sel.get_map():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise subprocess.TimeoutExpired(proc.args, _timeout_of(deadline))
        for key, _events in sel.select(remaining):
            if key.fileobj is proc.stdin:
                try:
                    sent += os.write(key.fd, data[sent:sent + _PIPE_CHUNK])
                except BrokenPipeError:  # the plugin stopped reading: ignored
                    sent = len(data)
                if sent >= len(data):
                    sel.unregister(key.fileobj)
                    proc.stdin.close()
            elif key.data is None:  # the pidfd
                sel.unregister(key.fileobj)
            else:
                chunk = os.read(key.fd, 65536)
                if chunk:
                    key.data.append(chunk)
                else:
                    sel.unregister(key.fileobj)


def _timeout_of(deadline: float | None) -> float:
    return 0.0 if deadline is None else max(deadline - time.monotonic(), 0.0)


def plugin_failure(plugin_type: str, status: int, stdout: bytes, stderr: bytes) -> DelegateError:
    """Turn a failed plugin run into an error that carries the plugin's own CNI error."""
    try:
        data = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), int) and "msg" in data:
        details = data.get("details", "")
        return DelegateError(
            str(data.get("msg", "")),
            details if isinstance(details, str) else json.dumps(details),
            code=data["code"],
            plugin=plugin_type,
        )
    text = stderr.decode(errors="replace").strip()
    if text:
        return DelegateError(f'netplugin failed: "{text}"', plugin=plugin_type)
    return DelegateError(
        f"netplugin failed with no error message: exit status {status}", plugin=plugin_type
    )


def _parse_result(raw: bytes, conf_version: str) -> dict[str, Any]:
    return cniresult.parse(raw, conf_version)


# --------------------------------------------------------------------------- cache


def _cache_key(network: str, rt: RuntimeConf) -> str:
    return f"{network}-{rt.container_id}-{rt.ifname}"


def cache_path(cache_dir: str, network: str, rt: RuntimeConf) -> Path:
    return Path(cache_dir) / "results" / _cache_key(network, rt)


def write_cached_result(
    executor: Executor, network: NetworkList, rt: RuntimeConf, result: Mapping[str, Any]
) -> None:
    """Store what libcni stores after a successful ADD (``cniCacheV1``)."""
    entry = {
        "kind": "cniCacheV1",
        "containerId": rt.container_id,
        "config": base64.b64encode(network.raw).decode(),
        "ifName": rt.ifname,
        "networkName": network.name,
        "netns": rt.netns,
        "cniArgs": [list(pair) for pair in rt.args],
        "capabilityArgs": dict(rt.capability_args),
        "result": dict(result),
    }
    path = cache_path(executor.cache_dir, network.name, rt)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fsutil.atomic_write(path, json.dumps(entry), mode=0o600, durable=False)


def read_cached_result(cache_dir: str, network: str, rt: RuntimeConf) -> dict[str, Any] | None:
    """The cached ADD result of an attachment, or None when there is none."""
    path = cache_path(cache_dir, network, rt)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MultusError(
            f"failed to read cached result {path}: {exc}", code=CniCode.IO_FAILURE
        ) from None
    entry = decode_object(raw, f"failed to decode cached result {path}")
    res = entry.get("result")
    return res if isinstance(res, dict) else None


def delete_cached_result(cache_dir: str, network: str, rt: RuntimeConf) -> None:
    fsutil.remove_quietly(cache_path(cache_dir, network, rt))


def rewrite_cached_result(
    cache_dir: str,
    network: str,
    rt: RuntimeConf,
    edit: Callable[[dict[str, Any]], dict[str, Any]],
) -> bool:
    """Apply ``edit`` to the cached result in place (atomically). False when not cached."""
    path = cache_path(cache_dir, network, rt)
    try:
        entry = decode_object(path.read_bytes(), f"failed to decode cached result {path}")
    except FileNotFoundError:
        return False
    res = entry.get("result")
    if not isinstance(res, dict):
        return False
    entry["result"] = edit(res)
    fsutil.atomic_write(path, json.dumps(entry), mode=0o600, durable=False)
    return True


def cached_attachments(cache_dir: str) -> list[dict[str, Any]]:
    """Every readable ``cniCacheV1`` entry under ``<cache_dir>/results`` (bad ones skipped)."""
    results = Path(cache_dir) / "results"
    entries: list[dict[str, Any]] = []
    for path in sorted(results.iterdir()):
        try:
            entry = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and entry.get("kind") == "cniCacheV1":
            entries.append(entry)
    return entries


# --------------------------------------------------------------------------- commands


def add(
    executor: Executor, network: NetworkList, rt: RuntimeConf
) -> dict[str, Any]:
    """libcni ``AddNetwork``/``AddNetworkList``: run the chain, cache and return the result."""
    prev: dict[str, Any] | None = None
    for plugin in network.plugins:
        conf = build_plugin_conf(
            plugin, name=network.name, cni_version=network.cni_version, prev_result=prev, rt=rt
        )
        out = exec_plugin(executor, str(plugin["type"]), "ADD", conf, rt)
        prev = _parse_result(out, network.cni_version)
    assert prev is not None  # noqa: S101 - load_network guarantees at least one plugin
    write_cached_result(executor, network, rt, prev)
    return prev


def delete(executor: Executor, network: NetworkList, rt: RuntimeConf) -> None:
    """libcni ``DelNetwork``/``DelNetworkList``: reverse order, cached prevResult (≥0.4.0)."""
    cached: dict[str, Any] | None = None
    if cniversion.ge(network.cni_version, "0.4.0"):
        try:
            cached = read_cached_result(executor.cache_dir, network.name, rt)
        except MultusError as exc:
            raise exc.prefixed(f'failed to get network "{network.name}" cached result: ') from None
        if cached is not None:
            cached = _as_version(cached, network.cni_version)
    for plugin in reversed(network.plugins):
        conf = build_plugin_conf(
            plugin, name=network.name, cni_version=network.cni_version, prev_result=cached, rt=rt
        )
        exec_plugin(executor, str(plugin["type"]), "DEL", conf, rt)
    delete_cached_result(executor.cache_dir, network.name, rt)


def check(executor: Executor, network: NetworkList, rt: RuntimeConf) -> None:
    """libcni ``CheckNetwork``/``CheckNetworkList`` (needs cniVersion ≥ 0.4.0)."""
    if not cniversion.ge(network.cni_version, "0.4.0"):
        raise MultusError(
            f'configuration version "{network.cni_version}" does not support the CHECK command',
            code=CniCode.INCOMPATIBLE_VERSION,
        )
    if network.disable_check:
        return
    try:
        cached = read_cached_result(executor.cache_dir, network.name, rt)
    except MultusError as exc:
        raise exc.prefixed(f'failed to get network "{network.name}" cached result: ') from None
    if cached is not None:
        cached = _as_version(cached, network.cni_version)
    for plugin in network.plugins:
        conf = build_plugin_conf(
            plugin, name=network.name, cni_version=network.cni_version, prev_result=cached, rt=rt
        )
        exec_plugin(executor, str(plugin["type"]), "CHECK", conf, rt)


def status(executor: Executor, network: NetworkList) -> None:
    """libcni ``GetStatusNetworkList``: a no-op below cniVersion 1.1.0."""
    if not cniversion.ge(network.cni_version, "1.1.0"):
        return
    for plugin in network.plugins:
        conf = build_plugin_conf(
            plugin, name=network.name, cni_version=network.cni_version, prev_result=None, rt=None
        )
        exec_plugin(executor, str(plugin["type"]), "STATUS", conf, None)


def gc(
    executor: Executor,
    network: NetworkList,
    valid_attachments: Sequence[Mapping[str, str]],
) -> None:
    """libcni ``GCNetworkList``: DEL cached attachments not in the valid set, then send GC."""
    valid = {(a.get("containerID", ""), a.get("ifname", "")) for a in valid_attachments}
    errors: list[str] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in cached_attachments(executor.cache_dir):
            if entry.get("networkName") != network.name:
                continue
            key = (str(entry.get("containerId", "")), str(entry.get("ifName", "")))
            if key in valid:
                continue
            rt = RuntimeConf(
                container_id=key[0],
                netns=str(entry.get("netns", "")),
                ifname=key[1],
                args=tuple(
                    (str(p[0]), str(p[1]))
                    for p in entry.get("cniArgs") or []
                    if isinstance(p, list) and len(p) == 2
                ),
                capability_args=entry.get("capabilityArgs") or {},
            )
            try:
                delete(executor, network, rt)
            except MultusError as exc:
                errors.append(str(exc))
    if cniversion.ge(network.cni_version, "1.1.0") and not network.disable_gc:
        for plugin in network.plugins:
            conf = build_plugin_conf(
                plugin, name=network.name, cni_version=network.cni_version, prev_result=None,
                rt=None,
            )
            conf["cni.dev/valid-attachments"] = [dict(a) for a in valid_attachments]
            try:
                exec_plugin(executor, str(plugin["type"]), "GC", conf, None)
            except MultusError as exc:
                errors.append(str(exc))
    if errors:
        raise MultusError("; ".join(errors))


def _as_version(result: dict[str, Any], to_version: str) -> dict[str, Any]:
    """Convert a cached result to the network's version for use as ``prevResult``."""
    if not to_version or result.get("cniVersion") == to_version:
        return result
    try:
        return cniresult.convert(result, to_version)
    except MultusError:
        return result
