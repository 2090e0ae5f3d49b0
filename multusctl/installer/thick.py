"""The thick daemon's config manager: ``00-multus.conf`` pointing at ``multus-shim``.

It is the entrypoint's machinery with one difference: the generated config names the
``multus-shim`` plugin. Master selection and rendering are ``config.generate``'s (the
master embedded as ``delegates[0]``, exactly as ``multusctl entrypoint`` writes it), and
the loop is ``installer.watch``'s (inotify on directories, level-triggered reconcile,
periodic resync).

Upstream's daemon (THK-05) instead writes ``clusterNetwork: <path of the master>``; both
shapes reach the same delegates, and ours is what the thin installer writes, so switching
a node between thin and thick changes one word of the file.

Rules kept from upstream: the first config is waited for up to 120 s (1 s polls); the
readiness indicator file, when configured, must exist, and its removal deletes the
config and ends the daemon with status 2. Unlike upstream, a plain shutdown leaves the
config in place (BUG-11); ``cleanup`` removes it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from multusctl import fsutil
from multusctl.config.generate import OWN_OUTPUTS, GenerateOptions, generate, select_master
from multusctl.errors import DecodeError, IOFailure, MultusError
from multusctl.installer.watch import DirectoryWatcher, Waker, watch_loop

SHIM_TYPE = "multus-shim"
FIRST_CONFIG_TRIES = 120
FIRST_CONFIG_INTERVAL = 1.0
RESYNC_SECONDS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ThickConfigOptions:
    """The daemon config keys that shape ``00-multus.conf`` (THK-03)."""

    cni_config_dir: str
    autoconfig_dir: str
    master: str = ""
    """``multusMasterCNI``: a file name or a path inside ``autoconfig_dir``."""
    cni_version: str = ""
    force_cni_version: bool = False
    override_network_name: bool = False
    namespace_isolation: bool = False
    global_namespaces: str = ""
    log_level: str = ""
    log_file: str = ""
    log_to_stderr: bool = True
    bin_dir: str = ""
    readiness_indicator_file: str = ""
    daemon_socket_dir: str = ""
    """``daemonSocketDir``: written into the config, so that the shim finds the daemon's
    socket outside its default ``/run/multus/`` (upstream's MultusConf key)."""


def as_shim(text: str, daemon_socket_dir: str = "") -> str:
    """The generated text with the Multus plugin type set to ``multus-shim`` and, when
    given, a ``daemonSocketDir`` line right after it (same indentation)."""
    marker = '"type": "multus",'
    at = text.find(marker)
    if at < 0:
        raise MultusError("generated Multus config has no plugin type line")  # pragma: no cover
    replacement = f'"type": "{SHIM_TYPE}",'
    if daemon_socket_dir:
        indent = text[text.rfind("\n", 0, at) + 1 : at]
        value = json.dumps(daemon_socket_dir, ensure_ascii=False)
        replacement += f'\n{indent}"daemonSocketDir": {value},'
    return text[:at] + replacement + text[at + len(marker) :]


class ShimConfigManager:
    """Writes and keeps ``00-multus.conf`` (or ``.conflist``) current for the daemon."""

    def __init__(
        self,
        opts: ThickConfigOptions,
        *,
        info: Callable[[str], None],
        error: Callable[[str], None],
        exit_request: Callable[[int], None],
        sleep: Callable[[float], None] | None = None,
        use_inotify: bool = True,
    ) -> None:
        self.opts = opts
        self._info = info
        self._error = error
        self._exit_request = exit_request
        self._sleep = sleep
        self._use_inotify = use_inotify
        master = opts.master
        if master and os.path.dirname(master):
            if os.path.abspath(master) in {
                os.path.join(os.path.abspath(opts.cni_config_dir), name) for name in OWN_OUTPUTS
            }:
                raise MultusError(
                    f"cannot specify {master} to prevent recursive config load"
                )
            master = os.path.basename(master)
        self.master = master
        self.gen = GenerateOptions(
            cni_version=opts.cni_version if opts.force_cni_version else "",
            force_cni_version=opts.force_cni_version,
            override_network_name=opts.override_network_name,
            namespace_isolation=opts.namespace_isolation,
            global_namespaces=opts.global_namespaces,
            log_to_stderr=opts.log_to_stderr,
            log_level=opts.log_level,
            log_file=opts.log_file,
            additional_bin_dir=opts.bin_dir,
            multus_cni_conf_dir="",
            readiness_indicator_file="",
            kubeconfig="",
        )
        self.written: Path | None = None
        self._stop = threading.Event()
        self._waker = Waker()
        self._watcher: DirectoryWatcher | None = None
        self._thread: threading.Thread | None = None
        self._last_error = ""

    # ------------------------------------------------------------------ reconcile

    def reconcile(self) -> bool:
        """Bring the config file to what it should be; True when one is in place."""
        opts = self.opts
        if opts.readiness_indicator_file and not os.path.exists(opts.readiness_indicator_file):
            if self.written is not None:
                self._info(
                    f"readiness indicator file {opts.readiness_indicator_file} is gone: "
                    f"removing {self.written}"
                )
                fsutil.remove_quietly(self.written)
                self.written = None
                self._exit_request(2)
            return False
        autoconf = Path(opts.autoconfig_dir)
        try:
            names = [e.name for e in os.scandir(autoconf) if e.is_file()]
        except FileNotFoundError:
            names = []
        chosen = select_master(names, self.master)
        if chosen is None:
            return False
        master_path = autoconf / chosen
        try:
            data = master_path.read_bytes()
        except FileNotFoundError:
            return False
        result = generate(data, self.gen, str(master_path))
        text = as_shim(result.text, opts.daemon_socket_dir)
        conf_dir = Path(opts.cni_config_dir)
        target = conf_dir / result.filename
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            current = None
        if current != text.encode():
            fsutil.atomic_write(target, text, mode=0o600)
            self._info(f"Config file created @ {target} (primary CNI {master_path})")
        if fsutil.remove_quietly(conf_dir / result.stale_filename):
            self._info(f"Removed stale {conf_dir / result.stale_filename}")
        self.written = target
        return True

    def first(self, tries: int = FIRST_CONFIG_TRIES) -> None:
        """THK-05: the first config, retried once per second (120 tries)."""
        sleep = self._sleep or self._stop.wait
        for attempt in range(tries):
            try:
                if self.reconcile():
                    return
            except DecodeError as exc:  # a master caught mid-write
                self._report(exc)
            if attempt + 1 < tries:
                sleep(FIRST_CONFIG_INTERVAL)
        raise IOFailure(
            "failed to find the cluster master CNI plugin: could not find a plugin "
            f"configuration in {self.opts.autoconfig_dir}"
        )

    # ------------------------------------------------------------------ watch

    def start(self) -> None:
        """Write the first config, then keep it current from a background thread."""
        self.first()
        dirs = [self.opts.autoconfig_dir]
        if self.opts.readiness_indicator_file:
            dirs.append(os.path.dirname(self.opts.readiness_indicator_file))
        resync = RESYNC_SECONDS
        if self._use_inotify:
            self._watcher = DirectoryWatcher(dirs, self._waker.wake)
            try:
                self._watcher.start()
            except OSError as exc:
                self._error(f"cannot watch {dirs} ({exc}); polling every second")
                self._watcher, resync = None, 1.0
        else:
            resync = 1.0
        self._thread = threading.Thread(
            target=watch_loop,
            kwargs={
                "reconcile": self.reconcile,
                "waiter": self._waker,
                "stop": self._stop,
                "resync_interval": resync,
                "on_error": self._report,
            },
            name="config-manager",
            daemon=True,
        )
        self._thread.start()

    def _report(self, err: Exception) -> None:
        if str(err) != self._last_error:
            self._last_error = str(err)
            self._error(str(err))

    def stop(self, *, cleanup: bool) -> None:
        self._stop.set()
        self._waker.wake("stop")
        if self._watcher is not None:
            self._watcher.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if cleanup:
            conf_dir = Path(self.opts.cni_config_dir)
            for name in OWN_OUTPUTS:
                if fsutil.remove_quietly(conf_dir / name):
                    self._info(f"Removed {conf_dir / name}")
