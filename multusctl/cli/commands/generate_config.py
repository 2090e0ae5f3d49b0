"""Print the Multus config generated from the master CNI config (or write it).

Takes the entrypoint's generation flags. The master is the first .conf/.conflist/.json
of --multus-autoconfig-dir (default: --cni-conf-dir), or --master FILE.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from multusctl import fsutil
from multusctl.cli import console
from multusctl.cli.commands import _node_flags as nf
from multusctl.config.generate import generate, select_master
from multusctl.errors import IOFailure

Command = nf.CompatCommand


def command(
    *,
    cni_conf_dir: Annotated[
        str,
        typer.Option("--cni-conf-dir", help="CNI config directory (master lookup default)."),
    ] = "/host/etc/cni/net.d",
    multus_autoconfig_dir: Annotated[
        str,
        typer.Option(
            "--multus-autoconfig-dir",
            help="Where to look for the master CNI config [default: --cni-conf-dir].",
            show_default=False,
        ),
    ] = "",
    master: Annotated[
        str,
        typer.Option("--master", help="Read the master CNI config from this file instead."),
    ] = "",
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Write the config to this file (atomically) instead of stdout.",
        ),
    ] = "",
    cni_version: nf.CniVersion = "",
    force_cni_version: nf.ForceCniVersion = False,
    multus_master_cni_file_name: nf.MasterFileName = "",
    multus_kubeconfig_file_host: nf.KubeconfigHost = nf.DEFAULT_KUBECONFIG_HOST,
    multus_cni_conf_dir: nf.MultusCniConfDir = nf.DEFAULT_MULTUS_CNI_CONF_DIR,
    namespace_isolation: nf.NamespaceIsolation = False,
    global_namespaces: nf.GlobalNamespaces = "",
    multus_log_to_stderr: nf.LogToStderr = True,
    multus_log_level: nf.LogLevel = "",
    multus_log_file: nf.LogFile = "",
    override_network_name: nf.OverrideNetworkName = False,
    additional_bin_dir: nf.AdditionalBinDir = "",
    readiness_indicator_file: nf.ReadinessIndicatorFile = "",
) -> None:
    """Print the Multus config generated from the master CNI config (or write it)."""
    options = nf.generate_options(
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
    if master:
        master_path = Path(master)
    else:
        directory = Path(multus_autoconfig_dir or cni_conf_dir)
        try:
            names = [e.name for e in os.scandir(directory) if e.is_file()]
        except OSError as err:
            raise IOFailure(f'cannot find master CNI config in "{directory}": {err}') from err
        chosen = select_master(names, multus_master_cni_file_name)
        if chosen is None:
            wanted = multus_master_cni_file_name or "valid master CNI config"
            raise IOFailure(f'cannot find {wanted} in "{directory}"')
        master_path = directory / chosen
    try:
        data = master_path.read_bytes()
    except OSError as err:
        raise IOFailure(f'cannot read master CNI config file "{master_path}": {err}') from err
    result = generate(data, options, str(master_path))
    if not output:
        sys.stdout.write(result.text)
        return
    try:
        fsutil.atomic_write(output, result.text, mode=0o600)
    except OSError as err:
        raise IOFailure(f"cannot write {output}: {err}") from err
    console.note_line(f"{result.filename} content from {master_path} written to {output}")
