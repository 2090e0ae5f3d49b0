"""Install Multus on this node and keep its config current (the DaemonSet entrypoint).

Accepts every flag of upstream's v3.9 entrypoint.sh and v4.2 thin_entrypoint, in the
forms --flag=value, --flag value, --flag and --flag=true|false.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated, TextIO

import typer

from multusctl.cli import console
from multusctl.cli.commands import _node_flags as nf
from multusctl.errors import InvalidEnvironment
from multusctl.installer.entrypoint import (
    SERVICE_ACCOUNT_DIR,
    EntrypointOptions,
    KubeAccess,
    RunContext,
    install_signal_handlers,
    run,
)
from multusctl.installer.watch import Waker

Command = nf.CompatCommand

_BIN_DEFAULT = "/usr/src/multus-cni/bin/multus"


class PlainReporter:
    """Timestamped lines: info on stdout, warnings and errors on stderr."""

    def __init__(self) -> None:
        self._last_wait = ""

    @staticmethod
    def _line(stream: TextIO, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        stream.write(f"{stamp} {text}\n")
        stream.flush()

    def info(self, message: str) -> None:
        self._line(sys.stdout, message)

    def warn(self, message: str) -> None:
        self._line(sys.stderr, f"WARN: {message}")

    def error(self, message: str) -> None:
        self._line(sys.stderr, f"ERROR: {message}")

    def waiting(self, message: str, elapsed: float, timeout: float) -> None:
        if message != self._last_wait:  # the periodic "attempt <n>" lines come via info
            self._last_wait = message
            self.info(message)

    def close(self) -> None:
        return None


class TerminalReporter:
    """On a terminal: permanent lines plus a spinner while waiting for a master."""

    def __init__(self) -> None:
        self._status = console.StatusLine()

    def info(self, message: str) -> None:
        if not message.startswith("Attempting to find master plugin configuration"):
            self._status.stop()
            self._status.print(message)

    def warn(self, message: str) -> None:
        self._status.stop()
        self._status.print(f"warning: {message}", style="yellow")

    def error(self, message: str) -> None:
        self._status.stop()
        self._status.print(f"error: {message}", style="red")

    def waiting(self, message: str, elapsed: float, timeout: float) -> None:
        self._status.update(f"{message} - {int(elapsed)} s of {int(timeout)} s")

    def close(self) -> None:
        self._status.stop()


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def _kubeconfig_mode() -> int:
    raw = os.environ.get("KUBECONFIG_MODE", "600").strip() or "600"
    try:
        mode = int(raw, 8)
    except ValueError as err:
        raise InvalidEnvironment(f"KUBECONFIG_MODE is not an octal mode: {raw!r}") from err
    if not 0 <= mode <= 0o7777:
        raise InvalidEnvironment(f"KUBECONFIG_MODE is not an octal mode: {raw!r}")
    return mode


def command(
    *,
    cni_bin_dir: Annotated[
        str, typer.Option("--cni-bin-dir", help="CNI binary directory (the host's, mounted).")
    ] = "/host/opt/cni/bin",
    cni_conf_dir: Annotated[
        str, typer.Option("--cni-conf-dir", help="CNI config directory (the host's, mounted).")
    ] = "/host/etc/cni/net.d",
    cni_version: nf.CniVersion = "",
    force_cni_version: nf.ForceCniVersion = False,
    multus_conf_file: Annotated[
        str,
        typer.Option("--multus-conf-file", help="'auto' to generate, or a config to copy."),
    ] = "auto",
    multus_bin_file: Annotated[
        str, typer.Option("--multus-bin-file", help="The multus plugin binary to install.")
    ] = _BIN_DEFAULT,
    multus_cni_conf_dir: nf.MultusCniConfDir = nf.DEFAULT_MULTUS_CNI_CONF_DIR,
    multus_kubeconfig_file_host: nf.KubeconfigHost = nf.DEFAULT_KUBECONFIG_HOST,
    multus_master_cni_file_name: nf.MasterFileName = "",
    namespace_isolation: nf.NamespaceIsolation = False,
    global_namespaces: nf.GlobalNamespaces = "",
    multus_autoconfig_dir: nf.AutoconfigDir = "/host/etc/cni/net.d",
    multus_log_to_stderr: nf.LogToStderr = True,
    multus_log_level: nf.LogLevel = "",
    multus_log_file: nf.LogFile = "",
    override_network_name: nf.OverrideNetworkName = False,
    cleanup_config_on_exit: Annotated[
        bool,
        typer.Option(
            "--cleanup-config-on-exit/--no-cleanup-config-on-exit",
            help="Remove the generated config on SIGTERM/SIGINT.",
        ),
    ] = False,
    skip_config_watch: Annotated[
        bool,
        typer.Option(
            "--skip-config-watch/--no-skip-config-watch",
            help="Do not watch the master, token and CA; just sleep until a signal.",
        ),
    ] = False,
    restart_crio: Annotated[
        bool,
        typer.Option(
            "--restart-crio/--no-restart-crio",
            help="Run 'systemctl restart crio' once (v3.9; CRI-O does not need it).",
        ),
    ] = False,
    rename_conf_file: Annotated[
        bool,
        typer.Option(
            "--rename-conf-file/--no-rename-conf-file",
            help="Rename the master config to <name>.old after generating.",
        ),
    ] = False,
    additional_bin_dir: nf.AdditionalBinDir = "",
    skip_multus_binary_copy: Annotated[
        bool,
        typer.Option(
            "--skip-multus-binary-copy/--no-skip-multus-binary-copy",
            help="Do not install the multus binary.",
        ),
    ] = False,
    readiness_indicator_file: nf.ReadinessIndicatorFile = "",
    skip_tls_verify: Annotated[
        bool,
        typer.Option(
            "--skip-tls-verify/--no-skip-tls-verify",
            help="Kubeconfig without CA verification (also SKIP_TLS_VERIFY=true).",
            hidden=True,
        ),
    ] = False,
    service_account_dir: Annotated[
        str,
        typer.Option(
            "--service-account-dir",
            help="Where the service account token and CA are mounted.",
            hidden=True,
        ),
    ] = SERVICE_ACCOUNT_DIR,
) -> None:
    """Install Multus on this node and keep its config current (the DaemonSet entrypoint)."""
    generation = nf.generate_options(
        cni_version=cni_version,
        force_cni_version=force_cni_version,
        override_network_name=override_network_name,
        namespace_isolation=namespace_isolation,
        global_namespaces=global_namespaces,
        multus_log_to_stderr=multus_log_to_stderr,
        multus_log_level=multus_log_level,
        multus_log_file=multus_log_file,
        additional_bin_dir=additional_bin_dir,
        multus_cni_conf_dir=multus_cni_conf_dir,
        readiness_indicator_file=readiness_indicator_file,
        multus_kubeconfig_file_host=multus_kubeconfig_file_host,
    )
    kube = KubeAccess(
        service_host=os.environ.get("KUBERNETES_SERVICE_HOST", ""),
        service_port=os.environ.get("KUBERNETES_SERVICE_PORT", ""),
        service_protocol=os.environ.get("KUBERNETES_SERVICE_PROTOCOL", "") or "https",
        ca_file=os.environ.get("KUBE_CA_FILE", ""),
        skip_tls_verify=skip_tls_verify or _env_bool("SKIP_TLS_VERIFY"),
        kubeconfig_mode=_kubeconfig_mode(),
        service_account_dir=service_account_dir,
    )
    options = EntrypointOptions(
        cni_bin_dir=cni_bin_dir,
        cni_conf_dir=cni_conf_dir,
        multus_conf_file=multus_conf_file,
        multus_bin_file=multus_bin_file,
        skip_multus_binary_copy=skip_multus_binary_copy,
        multus_master_cni_file_name=multus_master_cni_file_name,
        multus_autoconfig_dir=multus_autoconfig_dir,
        cleanup_config_on_exit=cleanup_config_on_exit,
        skip_config_watch=skip_config_watch,
        restart_crio=restart_crio,
        rename_conf_file=rename_conf_file,
        generate=generation,
        kube=kube,
    )
    reporter: PlainReporter | TerminalReporter = (
        TerminalReporter() if sys.stdout.isatty() else PlainReporter()
    )
    waiter = Waker()
    ctx = RunContext(waiter=waiter)
    restore = install_signal_handlers(ctx.stop, waiter)
    try:
        run(options, reporter, ctx)
    finally:
        restore()
        reporter.close()
