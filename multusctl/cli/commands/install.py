"""Install the multus plugin, its config and kubeconfig on this node (manual install).

The plugin goes into --cni-bin-dir as the fastest self-contained layout the host allows
(--layout auto: the host's python3 >= 3.11 if present, else the frozen build); see
docs/node-install.md. --with-shim also installs thick mode's multus-shim in the same
layout; --shim-only installs nothing else (a thick node: its daemon writes the config).
Idempotent: a second run changes nothing and says so. --dry-run prints the plan and
touches nothing; --uninstall removes exactly what install wrote.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from multusctl.cli.commands import _node_flags as nf
from multusctl.errors import InvalidEnvironment
from multusctl.installer.install import (
    DEFAULT_FROZEN_DIR,
    DEFAULT_FROZEN_SHIM_DIR,
    InstallOptions,
    KubeconfigSource,
    Report,
    install,
    uninstall,
)

Command = nf.CompatCommand


def _print(report: Report, uninstalling: bool) -> None:
    out = sys.stdout
    prefix = "dry run: " if report.dry_run else ""
    for step in report.steps:
        out.write(f"{prefix}{step.line(report.dry_run)}\n")
    if report.changed:
        what = "uninstall" if uninstalling else "install"
        verb = "would change" if report.dry_run else "changed"
        count = sum(s.action in ("write", "remove") for s in report.steps)
        out.write(f"{prefix}{what}: {count} {verb}\n")
    elif uninstalling:
        out.write(f"{prefix}uninstall: nothing to remove\n")
    else:
        out.write(f"{prefix}install: nothing to do, already installed\n")


def command(
    *,
    cni_bin_dir: Annotated[
        str, typer.Option("--cni-bin-dir", help="Where the plugin goes.")
    ] = "/opt/cni/bin",
    cni_conf_dir: Annotated[
        str,
        typer.Option("--cni-conf-dir", help="Where 00-multus.conf and multus.d/ go."),
    ] = "/etc/cni/net.d",
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="auto (host python3 >= 3.11, else frozen), python or frozen.",
        ),
    ] = "auto",
    frozen_dir: Annotated[
        str,
        typer.Option(
            "--frozen-dir",
            help="The PyInstaller onedir build (scripts/build-node-binary.sh).",
        ),
    ] = DEFAULT_FROZEN_DIR,
    with_shim: Annotated[
        bool,
        typer.Option(
            "--with-shim/--without-shim",
            help="Also install multus-shim (thick mode's CNI executable) in the same layout.",
        ),
    ] = False,
    shim_only: Annotated[
        bool,
        typer.Option(
            "--shim-only/--no-shim-only",
            help="Install multus-shim and nothing else (a thick node, whose daemon writes "
            "the config): --with-shim --skip-binary --skip-config.",
        ),
    ] = False,
    frozen_shim_dir: Annotated[
        str,
        typer.Option(
            "--frozen-shim-dir",
            help="The shim's PyInstaller onedir build "
            "(scripts/build-node-binary.sh --target multus-shim).",
        ),
    ] = DEFAULT_FROZEN_SHIM_DIR,
    python: Annotated[
        str,
        typer.Option(
            "--python",
            help="Host interpreter for the python layout [default: probe /usr/bin/python3, "
            "/usr/local/bin/python3, ...].",
            show_default=False,
        ),
    ] = "",
    host_root: Annotated[
        str,
        typer.Option(
            "--host-root",
            help="Where the host's / is mounted (in a container); paths written into "
            "files are the host's.",
        ),
    ] = "/",
    skip_binary: Annotated[
        bool,
        typer.Option(
            "--skip-binary/--no-skip-binary",
            help="Do not install the thin multus plugin (--with-shim still installs the shim).",
        ),
    ] = False,
    skip_config: Annotated[
        bool,
        typer.Option(
            "--skip-config/--no-skip-config",
            help="Install only the plugin (no config, no kubeconfig): the DaemonSet's init "
            "container, where the entrypoint writes the config.",
        ),
    ] = False,
    skip_kubeconfig: Annotated[
        bool,
        typer.Option("--skip-kubeconfig/--no-skip-kubeconfig", help="Write no kubeconfig."),
    ] = False,
    kubeconfig: Annotated[
        str,
        typer.Option("--kubeconfig", help="Install this kubeconfig file as is."),
    ] = "",
    token_file: Annotated[
        str,
        typer.Option(
            "--token-file",
            help="Service account token for the rendered kubeconfig "
            "(e.g. from 'kubectl create token multus -n kube-system').",
        ),
    ] = "",
    ca_file: Annotated[
        str, typer.Option("--ca-file", envvar="KUBE_CA_FILE", help="API server CA bundle.")
    ] = "",
    server_host: Annotated[
        str,
        typer.Option(
            "--server-host", envvar="KUBERNETES_SERVICE_HOST", help="API server host."
        ),
    ] = "",
    server_port: Annotated[
        str,
        typer.Option(
            "--server-port", envvar="KUBERNETES_SERVICE_PORT", help="API server port."
        ),
    ] = "",
    skip_tls_verify: Annotated[
        bool,
        typer.Option(
            "--skip-tls-verify/--no-skip-tls-verify",
            help="Kubeconfig without CA verification.",
        ),
    ] = False,
    multus_conf_file: Annotated[
        str,
        typer.Option("--multus-conf-file", help="'auto' to generate, or a config to copy."),
    ] = "auto",
    multus_autoconfig_dir: Annotated[
        str,
        typer.Option(
            "--multus-autoconfig-dir",
            help="Where to look for the master CNI config [default: --cni-conf-dir].",
            show_default=False,
        ),
    ] = "",
    multus_master_cni_file_name: nf.MasterFileName = "",
    cni_version: nf.CniVersion = "",
    force_cni_version: nf.ForceCniVersion = False,
    multus_kubeconfig_file_host: Annotated[
        str,
        typer.Option(
            "--multus-kubeconfig-file-host",
            help="The kubeconfig path written into the config "
            "[default: the installed kubeconfig's host path].",
            show_default=False,
        ),
    ] = nf.DEFAULT_KUBECONFIG_HOST,
    multus_cni_conf_dir: nf.MultusCniConfDir = nf.DEFAULT_MULTUS_CNI_CONF_DIR,
    namespace_isolation: nf.NamespaceIsolation = False,
    global_namespaces: nf.GlobalNamespaces = "",
    multus_log_to_stderr: nf.LogToStderr = True,
    multus_log_level: nf.LogLevel = "",
    multus_log_file: nf.LogFile = "",
    override_network_name: nf.OverrideNetworkName = False,
    additional_bin_dir: nf.AdditionalBinDir = "",
    readiness_indicator_file: nf.ReadinessIndicatorFile = "",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run/--no-dry-run", help="Print what would change; touch nothing."),
    ] = False,
    remove: Annotated[
        bool,
        typer.Option(
            "--uninstall/--no-uninstall", help="Remove exactly what install wrote."
        ),
    ] = False,
) -> None:
    """Install the multus plugin, its config and kubeconfig on this node (manual install)."""
    raw_mode = os.environ.get("KUBECONFIG_MODE", "600").strip() or "600"
    try:
        kube_mode = int(raw_mode, 8)
    except ValueError as err:
        raise InvalidEnvironment(f"KUBECONFIG_MODE is not an octal mode: {raw_mode!r}") from err
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
    options = InstallOptions(
        cni_bin_dir=cni_bin_dir,
        cni_conf_dir=cni_conf_dir,
        multus_autoconfig_dir=multus_autoconfig_dir,
        multus_master_cni_file_name=multus_master_cni_file_name,
        multus_conf_file=multus_conf_file,
        layout=layout,  # type: ignore[arg-type]  # validated by the installer
        frozen_dir=frozen_dir,
        python=python,
        host_root=host_root,
        skip_binary=skip_binary or shim_only,
        shim=with_shim or shim_only,
        frozen_shim_dir=frozen_shim_dir,
        skip_config=skip_config or shim_only,
        skip_kubeconfig=skip_kubeconfig,
        kubeconfig=KubeconfigSource(
            copy_from=kubeconfig,
            host=server_host,
            port=server_port,
            protocol=os.environ.get("KUBERNETES_SERVICE_PROTOCOL", "") or "https",
            token_file=token_file,
            ca_file=ca_file,
            skip_tls_verify=skip_tls_verify or os.environ.get("SKIP_TLS_VERIFY", "") == "true",
            mode=kube_mode,
        ),
        generate=generation,
        dry_run=dry_run,
    )
    report = uninstall(options) if remove else install(options)
    _print(report, remove)
