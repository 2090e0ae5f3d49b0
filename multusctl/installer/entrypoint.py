"""``multusctl entrypoint``: install the plugin on the node and keep its config current.

Sequence (upstream ENT3/ENT4 with the fixes listed in docs/reference/entrypoint.md):

1. existence checks; 2. atomic copy of the plugin binary; 3. the kubeconfig from the
pod's service account; 4. the Multus config: copied (``--multus-conf-file=<path>``) or
generated from the master CNI config (``auto``), waiting up to 600 s for a master;
5. the watch loop (``installer.watch``) keeps the config and the kubeconfig current until
SIGTERM/SIGINT; 6. with ``--cleanup-config-on-exit`` the generated config is removed.

All decisions go through :meth:`NodeInstaller.reconcile`, which is idempotent: it
computes what the files should contain and writes only what differs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

from multusctl import fsutil
from multusctl.config.generate import (
    OWN_OUTPUTS,
    GeneratedConfig,
    GenerateOptions,
    generate,
    select_master,
)
from multusctl.config.kubeconfig import KubeconfigInputs, render_kubeconfig
from multusctl.errors import DecodeError, ExitStatus, IOFailure, MultusError, TryAgainLater
from multusctl.installer.watch import DirectoryWatcher, Waiter, Waker, watch_loop

AUTO = "auto"
#: Where the kubelet mounts the pod's service account (token, ca.crt, namespace).
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: How long auto mode waits for a master CNI config before giving up (v3.9: 600 polls, 1 s apart).
MASTER_WAIT_SECONDS = 600.0
#: Poll interval while waiting for a master (events usually end the wait earlier).
MASTER_POLL_SECONDS = 1.0
#: Periodic reconcile without events (the events do the real work).
RESYNC_SECONDS = 10.0
#: Resync interval when inotify is unavailable (upstream polls every second).
FALLBACK_POLL_SECONDS = 1.0


class Reporter(Protocol):
    """Where the entrypoint's human output goes (plain lines or a terminal UI)."""

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def error(self, message: str) -> None: ...

    def waiting(self, message: str, elapsed: float, timeout: float) -> None:
        """Still waiting for something (called about once per second)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class KubeAccess:
    """How the plugin reaches the API server; read from the pod's environment."""

    service_host: str = ""
    """``KUBERNETES_SERVICE_HOST``. Default: unset (an error when a kubeconfig is needed)."""
    service_port: str = ""
    """``KUBERNETES_SERVICE_PORT``. Default: unset."""
    service_protocol: str = "https"
    """``KUBERNETES_SERVICE_PROTOCOL``. Default: ``https``."""
    ca_file: str = ""
    """``KUBE_CA_FILE``. Default: ``<service_account_dir>/ca.crt``."""
    skip_tls_verify: bool = False
    """``--skip-tls-verify`` or ``SKIP_TLS_VERIFY=true``. Default: false."""
    kubeconfig_mode: int = 0o600
    """``KUBECONFIG_MODE`` (octal). Default: 0600."""
    service_account_dir: str = SERVICE_ACCOUNT_DIR
    """Directory holding ``token`` and ``ca.crt``. Default: the kubelet's mount point."""

    @property
    def token_path(self) -> Path:
        return Path(self.service_account_dir) / "token"

    @property
    def ca_path(self) -> Path:
        return Path(self.ca_file) if self.ca_file else Path(self.service_account_dir) / "ca.crt"


@dataclass(frozen=True, slots=True, kw_only=True)
class EntrypointOptions:
    """Every ``multusctl entrypoint`` flag; defaults are upstream v4.2's where v3.9 and
    v4.2 differ (see docs/reference/entrypoint.md)."""

    cni_bin_dir: str = "/host/opt/cni/bin"
    """``--cni-bin-dir``: where the plugin binary goes. Default: ``/host/opt/cni/bin``."""
    cni_conf_dir: str = "/host/etc/cni/net.d"
    """``--cni-conf-dir``: where the config and ``multus.d/`` go.
    Default: ``/host/etc/cni/net.d``."""
    multus_conf_file: str = AUTO
    """``--multus-conf-file``: ``auto`` or a config file to copy. Default: ``auto``."""
    multus_bin_file: str = "/usr/src/multus-cni/bin/multus"
    """``--multus-bin-file``: the plugin binary to copy.
    Default: ``/usr/src/multus-cni/bin/multus``."""
    skip_multus_binary_copy: bool = False
    """``--skip-multus-binary-copy``. Default: false."""
    multus_master_cni_file_name: str = ""
    """``--multus-master-cni-file-name``: force the master file. Default: first by name."""
    multus_autoconfig_dir: str = "/host/etc/cni/net.d"
    """``--multus-autoconfig-dir``: where the master is looked for.
    Default: ``/host/etc/cni/net.d``."""
    cleanup_config_on_exit: bool = False
    """``--cleanup-config-on-exit``: remove what we generated on SIGTERM. Default: false."""
    skip_config_watch: bool = False
    """``--skip-config-watch``: no watch loop; sleep until a signal. Default: false."""
    restart_crio: bool = False
    """``--restart-crio``: ``systemctl restart crio`` once after the first config.
    Default: false."""
    rename_conf_file: bool = False
    """``--rename-conf-file``: move the master to ``<master>.old``. Default: false."""
    generate: GenerateOptions = field(default_factory=GenerateOptions)
    """The generation flags shared with ``multusctl generate-config``."""
    kube: KubeAccess = field(default_factory=KubeAccess)
    """API server access (environment)."""
    master_wait_seconds: float = MASTER_WAIT_SECONDS
    """How long auto mode waits for a master. Default: 600 s."""
    resync_seconds: float = RESYNC_SECONDS
    """Reconcile at least this often in the watch loop. Default: 10 s."""

    @property
    def auto(self) -> bool:
        return self.multus_conf_file == AUTO

    @property
    def kubeconfig_path(self) -> Path:
        """Where the kubeconfig is written (the path *inside* the config is
        ``generate.kubeconfig``, the host's view of the same file)."""
        return Path(self.cni_conf_dir) / "multus.d" / "multus.kubeconfig"


def _run_command(argv: list[str]) -> int:
    try:
        return subprocess.run(argv, check=False).returncode
    except OSError:
        return 127


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


class NodeInstaller:
    """The stateful part of the entrypoint: what we wrote and what we have seen."""

    def __init__(
        self,
        options: EntrypointOptions,
        reporter: Reporter,
        *,
        run_command: Callable[[list[str]], int] = _run_command,
    ) -> None:
        self.options = options
        self.reporter = reporter
        self._run_command = run_command
        self.master_name: str | None = None
        """File name of the master the current config was generated from."""
        self.master_missing = False
        self.generated: GeneratedConfig | None = None
        self._renamed_master = False
        self._kube_digests: tuple[str, str] | None = None
        self._crio_restarted = False
        self._last_error = ""

    # --- start-up steps ----------------------------------------------------------------

    def verify_paths(self) -> None:
        """Upstream's existence checks (ENT4-02), with its messages."""
        opts = self.options
        checks = [("cni-conf-dir", opts.cni_conf_dir), ("cni-bin-dir", opts.cni_bin_dir)]
        if not opts.skip_multus_binary_copy:
            checks.append(("multus-bin-file", opts.multus_bin_file))
        if not opts.auto:
            checks.append(("multus-conf-file", opts.multus_conf_file))
        for flag, path in checks:
            try:
                os.stat(path)
            except OSError as err:
                raise IOFailure(f"{flag} is not found: {err}") from err

    def install_binary(self) -> None:
        """Copy the plugin binary atomically (temp file + rename in the destination)."""
        opts = self.options
        if opts.skip_multus_binary_copy:
            self.reporter.info("Entrypoint skipped copying Multus binary.")
            return
        source = Path(opts.multus_bin_file)
        target = Path(opts.cni_bin_dir) / "multus"
        try:
            mode = source.stat().st_mode & 0o7777
            fsutil.atomic_copy(source, target, mode=mode)
        except OSError as err:
            raise IOFailure(f"failed at multus copy: {err}") from err
        self.reporter.info(f"multus binary {source} is copied to {target}")

    # --- reconcile -----------------------------------------------------------------------

    def reconcile(self) -> bool:
        """Bring the kubeconfig and the Multus config to what they should be.

        Returns whether a Multus config is in place. Raises ``MultusError``/``OSError``
        for problems the caller decides about (fatal at start-up, logged in the loop).
        """
        self.sync_kubeconfig()
        if not self.options.auto:
            self.sync_copied_config()
            return True
        return self.sync_generated_config()

    def sync_kubeconfig(self) -> bool:
        """Write the kubeconfig when the token or CA changed. Returns whether it wrote."""
        opts, kube = self.options, self.options.kube
        token = _read_or_none(kube.token_path)
        if token is None:
            raise IOFailure(
                f"failed to create multus kubeconfig: file {kube.token_path} not found"
            )
        ca: bytes | None = None
        if not kube.skip_tls_verify:
            ca = _read_or_none(kube.ca_path)
            if ca is None:
                raise IOFailure(
                    f"failed to create multus kubeconfig: file {kube.ca_path} not found"
                )
        text = render_kubeconfig(
            KubeconfigInputs(
                host=kube.service_host,
                port=kube.service_port,
                protocol=kube.service_protocol,
                skip_tls_verify=kube.skip_tls_verify,
                ca_data=ca,
                token=token.decode("utf-8", errors="replace"),
            )
        )
        digests = (_sha(ca or b""), _sha(token))
        if opts.generate.multus_cni_conf_dir and opts.auto:
            # upstream creates it next to the kubeconfig; here also when the kubeconfig is
            # already current (a restarted pod), so the directory exists after every start
            Path(opts.generate.multus_cni_conf_dir).mkdir(mode=0o755, parents=True, exist_ok=True)
        target = opts.kubeconfig_path
        current = _read_or_none(target)
        if current == text.encode() and _mode_of(target) == kube.kubeconfig_mode:
            if self._kube_digests is None:
                self.reporter.info(f"kubeconfig {target} is up to date")
            self._kube_digests = digests
            return False
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fsutil.atomic_write(target, text, mode=kube.kubeconfig_mode)
        if self._kube_digests is not None and self._kube_digests != digests:
            ca_changed = self._kube_digests[0] != digests[0]
            token_changed = self._kube_digests[1] != digests[1]
            self.reporter.info(
                f"CA ({str(ca_changed).lower()}) or SA token ({str(token_changed).lower()}) "
                "changed - recreating kubeconfig"
            )
        self.reporter.info(f"kubeconfig is created in {target}")
        self._kube_digests = digests
        return True

    def sync_copied_config(self) -> bool:
        """Non-auto mode: keep ``<conf dir>/<basename>`` equal to ``--multus-conf-file``."""
        source = Path(self.options.multus_conf_file)
        target = Path(self.options.cni_conf_dir) / source.name
        data = _read_or_none(source)
        if data is None:
            raise IOFailure(f"multus-conf-file is not found: {source}")
        mode = source.stat().st_mode & 0o7777
        if _read_or_none(target) == data and _mode_of(target) == mode:
            return False
        fsutil.atomic_copy(source, target, mode=mode)
        self.reporter.info(f"multus config file {source} is copied.")
        return True

    def sync_generated_config(self) -> bool:
        """Auto mode: regenerate from the current master when anything differs."""
        opts = self.options
        conf_dir = Path(opts.cni_conf_dir)
        autoconf_dir = Path(opts.multus_autoconfig_dir)
        names = _list_files(autoconf_dir)
        explicit = opts.multus_master_cni_file_name
        if opts.rename_conf_file and self.master_name is not None:
            # after renaming the master we follow only its re-creation; otherwise every
            # remaining config would be picked and renamed in turn
            explicit = explicit or self.master_name
        master = select_master(names, explicit)
        master_bytes = _read_or_none(autoconf_dir / master) if master else None
        if master is None or master_bytes is None:
            self._master_gone()
            return self.generated is not None and (conf_dir / self.generated.filename).exists()

        master_path = autoconf_dir / master
        result = generate(master_bytes, opts.generate, str(master_path))
        if self.master_missing and master == self.master_name:
            self.reporter.info(
                f'Master plugin @ "{master_path}" was restored. Regenerating given configuration.'
            )
        elif self.master_name is not None and master != self.master_name:
            self.reporter.info(f'Master plugin changed to "{master_path}"')
        elif self.master_name is None:
            self.reporter.info(f"Using MASTER_PLUGIN: {master}")
        for note in result.notes:
            if self.generated is None or note not in self.generated.notes:
                self.reporter.info(note)

        target = conf_dir / result.filename
        if _read_or_none(target) != result.text.encode() or _mode_of(target) != 0o600:
            if self.generated is not None:
                self.reporter.info("master config changed - recreating multus config")
            fsutil.atomic_write(target, result.text, mode=0o600)
            self.reporter.info(f"Config file created @ {target}")
        if fsutil.remove_quietly(conf_dir / result.stale_filename):
            self.reporter.info(f"Removed stale {conf_dir / result.stale_filename}")
        self.generated = result
        self.master_name = master
        self.master_missing = False
        self._renamed_master = False

        if opts.rename_conf_file:
            renamed = master_path.with_name(master_path.name + ".old")
            try:
                os.replace(master_path, renamed)
            except OSError as err:
                raise IOFailure(f'cannot move original master file to "{renamed}": {err}') from err
            self._renamed_master = True
            self.reporter.info(f'Original master file moved to "{renamed}"')
        return True

    def _master_gone(self) -> None:
        if self.master_name is not None and not self.master_missing and not self._renamed_master:
            path = Path(self.options.multus_autoconfig_dir) / self.master_name
            self.reporter.info(
                f'Master plugin @ "{path}" has been deleted. waiting for its restoration...'
            )
        self.master_missing = True

    def after_first_config(self) -> None:
        """``--restart-crio``: once per process, as v3.9 did."""
        if not self.options.restart_crio or self._crio_restarted:
            return
        self._crio_restarted = True
        self.reporter.info("Restarting crio")
        status = self._run_command(["systemctl", "restart", "crio"])
        if status != 0:
            self.reporter.warn(f"systemctl restart crio failed with exit status {status}")

    def cleanup(self) -> list[Path]:
        """What ``--cleanup-config-on-exit`` removes (ENT4-11). Returns the removed files."""
        conf_dir = Path(self.options.cni_conf_dir)
        if self.options.auto:
            candidates = [conf_dir / name for name in OWN_OUTPUTS]
        else:
            candidates = [conf_dir / Path(self.options.multus_conf_file).name]
        removed = [p for p in candidates if fsutil.remove_quietly(p)]
        for path in removed:
            self.reporter.info(f"Removed {path}")
        return removed

    def report_error(self, err: Exception) -> None:
        """Log an error from the watch loop once (until a different one happens)."""
        message = str(err)
        if message != self._last_error:
            self.reporter.error(message)
            self._last_error = message

    def clear_error(self) -> None:
        self._last_error = ""


def _list_files(directory: Path) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            return [e.name for e in entries if e.is_file()]
    except FileNotFoundError:
        return []


def _mode_of(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return None


# --- the whole run -----------------------------------------------------------------------


@dataclass
class RunContext:
    """The injectable parts of a run (tests replace them; the CLI uses the defaults)."""

    stop: threading.Event = field(default_factory=threading.Event)
    waiter: Waiter = field(default_factory=Waker)
    clock: Callable[[], float] = time.monotonic
    run_command: Callable[[list[str]], int] = _run_command
    use_inotify: bool = True


def run(options: EntrypointOptions, reporter: Reporter, ctx: RunContext | None = None) -> None:
    """The entrypoint, start to finish. Returns after a stop request; raises
    ``MultusError`` for fatal problems (the CLI turns them into exit status 1)."""
    ctx = ctx or RunContext()
    installer = NodeInstaller(options, reporter, run_command=ctx.run_command)
    installer.verify_paths()
    installer.install_binary()
    watcher: DirectoryWatcher | None = None
    resync = options.resync_seconds
    if not options.skip_config_watch and ctx.use_inotify:
        watcher = DirectoryWatcher(_watched_dirs(options), ctx.waiter.wake)
        try:
            watched = watcher.start()
        except OSError as err:
            reporter.warn(f"cannot watch directories ({err}); polling every second")
            watcher, resync = None, FALLBACK_POLL_SECONDS
        else:
            reporter.info("Watching " + ", ".join(watched))
    elif not options.skip_config_watch:
        resync = FALLBACK_POLL_SECONDS
    try:
        _start(installer, options, reporter, ctx, resync)
    except OSError as err:
        raise IOFailure(str(err)) from err
    finally:
        if watcher is not None:
            watcher.stop()
        if options.cleanup_config_on_exit:
            installer.cleanup()


def _start(
    installer: NodeInstaller,
    options: EntrypointOptions,
    reporter: Reporter,
    ctx: RunContext,
    resync: float,
) -> None:
    installer.sync_kubeconfig()
    if options.auto:
        reporter.info(
            "Generating Multus configuration file using files in "
            f"{options.multus_autoconfig_dir}..."
        )
        if not _wait_for_config(installer, options, reporter, ctx):
            return
        reporter.info("multus config file is created.")
    else:
        installer.sync_copied_config()
    installer.after_first_config()
    if options.skip_config_watch:
        reporter.info("Entering sleep (success)...")
        while not ctx.stop.is_set():
            ctx.waiter.wait(3600.0)
        return
    reporter.info("Entering watch loop...")
    watch_loop(
        lambda: _loop_reconcile(installer),
        waiter=ctx.waiter,
        stop=ctx.stop,
        resync_interval=resync,
        on_error=installer.report_error,
    )


def _loop_reconcile(installer: NodeInstaller) -> None:
    installer.reconcile()
    installer.clear_error()


def _watched_dirs(options: EntrypointOptions) -> list[str]:
    dirs = [options.cni_conf_dir, str(options.kube.service_account_dir)]
    dirs.append(str(options.kube.ca_path.parent))
    if options.auto:
        dirs.append(options.multus_autoconfig_dir)
    else:
        dirs.append(str(Path(options.multus_conf_file).parent))
    return dirs


def _wait_for_config(
    installer: NodeInstaller, options: EntrypointOptions, reporter: Reporter, ctx: RunContext
) -> bool:
    """Wait until a master exists and a config is written. False when stopped first.

    A master that is not valid JSON yet (caught mid-write) is retried; any other error
    in the master (version mismatch, bad options) is fatal at once."""
    start = ctx.clock()
    attempt = 0
    while not ctx.stop.is_set():
        try:
            if installer.sync_generated_config():
                return True
            reason = "no master plugin configuration yet"
        except DecodeError as err:
            installer.report_error(err)
            reason = str(err)
        attempt += 1
        elapsed = ctx.clock() - start
        if elapsed >= options.master_wait_seconds:
            raise TryAgainLater(
                "Multus could not be configured: no master plugin was found.",
                f"waited {int(elapsed)} s for a CNI config in {options.multus_autoconfig_dir}",
            )
        if attempt % 5 == 0:
            reporter.info(f"Attempting to find master plugin configuration, attempt {attempt}")
        reporter.waiting(
            f"Waiting for a master CNI config in {options.multus_autoconfig_dir} ({reason})",
            elapsed,
            options.master_wait_seconds,
        )
        ctx.waiter.wait(MASTER_POLL_SECONDS)
    return False


# --- signals -------------------------------------------------------------------------------


def install_signal_handlers(stop: threading.Event, waiter: Waiter) -> Callable[[], None]:
    """SIGTERM/SIGINT set ``stop`` (and wake the loop); a second one exits at once with
    status 130. Returns a function that restores the previous handlers."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(ExitStatus.INTERRUPTED)
        stop.set()
        waiter.wake(f"signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


__all__ = [
    "AUTO",
    "EntrypointOptions",
    "KubeAccess",
    "MultusError",
    "NodeInstaller",
    "Reporter",
    "RunContext",
    "install_signal_handlers",
    "run",
]
