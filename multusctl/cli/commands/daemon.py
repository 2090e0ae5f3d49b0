"""Run the thick-plugin daemon: serve multus-shim's CNI requests on a unix socket.

Reads the daemon config file (``daemon-config.json``), writes ``00-multus.conf`` for
``multus-shim`` in auto mode and serves until SIGTERM/SIGINT. Exit statuses follow
upstream's multus-daemon: 1 config/readiness/health failure, 2 config manager failure,
3 listener failure, 4 after ``--version``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from multusctl import __version__
from multusctl.daemon import config as daemon_config
from multusctl.daemon import lifecycle
from multusctl.daemon.config import DaemonConfig
from multusctl.installer.thick import ShimConfigManager, ThickConfigOptions
from multusctl.logs import Logger


def _logger(conf: DaemonConfig) -> Logger:
    log = Logger(stderr=sys.stderr, log_to_stderr=conf.log_to_stderr)
    if conf.log_level:
        log.set_level(conf.log_level)
    if conf.log_file:
        log.set_file(conf.log_file)
    return log


def _config_manager(
    log: Logger,
) -> Callable[[DaemonConfig, Callable[[int], None]], lifecycle.ConfigManager]:
    def build(conf: DaemonConfig, exit_request: Callable[[int], None]) -> ShimConfigManager:
        opts = ThickConfigOptions(
            cni_config_dir=conf.cni_config_dir,
            autoconfig_dir=conf.autoconfig_dir,
            master=conf.multus_master_cni,
            cni_version=conf.cni_version,
            force_cni_version=conf.force_cni_version,
            override_network_name=conf.override_network_name,
            namespace_isolation=conf.namespace_isolation,
            global_namespaces=conf.global_namespaces,
            log_level=str(conf.raw.get("logLevel") or ""),
            log_file="",
            log_to_stderr=conf.raw.get("logToStderr") is not False,
            bin_dir=conf.bin_dir,
            readiness_indicator_file=conf.readiness_indicator_file,
            daemon_socket_dir=conf.daemon_socket_dir,
        )
        return ShimConfigManager(opts, info=log.verbose, error=log.error,
                                 exit_request=exit_request)

    return build


def _stderr_sink(data: bytes) -> None:
    sys.stderr.write(data.decode(errors="replace"))
    sys.stderr.flush()


def _install_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(130)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def command(
    config: Annotated[
        Path,
        typer.Option("--config", "-config", help="The daemon config file."),
    ] = Path(daemon_config.DEFAULT_PATH),
    version: Annotated[
        bool,
        typer.Option("--version", "-version", help="Print the version and exit (status 4)."),
    ] = False,
) -> None:
    """Run the thick-plugin daemon (upstream's multus-daemon)."""
    if version:
        sys.stdout.write(
            f"multus-daemon: version:{__version__}, commit:unknown commit, date:unknown date\n"
        )
        raise typer.Exit(4)
    try:
        data = config.read_bytes()
    except OSError as exc:
        sys.stderr.write(f"failed to read the daemon configuration {config}: {exc}\n")
        raise typer.Exit(1) from None
    try:
        conf = daemon_config.load(data)
    except daemon_config.DaemonConfigError as exc:
        sys.stderr.write(f"startMultusDaemon failed to load the CNI server configuration: {exc}\n")
        raise typer.Exit(1) from None
    log = _logger(conf)
    rt = lifecycle.Runtime(
        environ=os.environ,
        log=log,
        config_manager=_config_manager(log),
        stderr_sink=_stderr_sink,
    )
    _install_signals(rt.stop)
    status = lifecycle.run(conf, rt)
    log.close()
    raise typer.Exit(status)
