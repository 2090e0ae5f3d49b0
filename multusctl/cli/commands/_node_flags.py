"""Flags shared by ``entrypoint`` and ``generate-config``, and their argv compatibility.

Upstream DaemonSets pass booleans as ``--flag=true`` / ``--flag=false`` (v3.9 only knew
that form; v4.2's pflag also takes a bare ``--flag``). Click boolean flags reject a value,
so :class:`CompatCommand` rewrites ``--flag=<bool>`` into ``--flag`` / ``--no-flag``
before click parses. Values are read like Go's ``strconv.ParseBool``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperOption

from multusctl.config.generate import GenerateOptions

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def parse_bool(flag: str, value: str) -> bool:
    """Go ``strconv.ParseBool`` semantics; anything else is a usage error."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise typer.BadParameter(
        f'invalid argument "{value}" for "{flag}" flag: expected true or false'
    )


def normalise_bool_args(args: list[str], flags: dict[str, tuple[str, str]]) -> list[str]:
    """Rewrite ``--flag=<bool>`` to ``--flag`` or its negative form.

    ``flags`` maps each boolean option name to ``(positive, negative)`` spellings.
    Everything after a bare ``--`` is left alone.
    """
    out: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            out.extend(args[index:])
            break
        name, sep, value = arg.partition("=")
        if sep and name in flags:
            positive, negative = flags[name]
            out.append(positive if parse_bool(name, value) else negative)
        else:
            out.append(arg)
    return out


class CompatCommand(TyperCommand):
    """A typer command whose boolean flags also accept ``--flag=true|false``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        flags: dict[str, tuple[str, str]] = {}
        for param in self.params:
            if isinstance(param, TyperOption) and param.is_bool_flag and param.secondary_opts:
                positive, negative = param.opts[0], param.secondary_opts[0]
                for spelling in (*param.opts, *param.secondary_opts):
                    flags[spelling] = (positive, negative)
        return super().parse_args(ctx, normalise_bool_args(list(args), flags))


# --- generation flags (shared with generate-config) ----------------------------------------

_DEFAULTS = GenerateOptions()

CniVersion = Annotated[
    str,
    typer.Option(
        "--cni-version",
        help="cniVersion of the Multus config; must match the master's unless forced.",
    ),
]
ForceCniVersion = Annotated[
    bool,
    typer.Option(
        "--force-cni-version/--no-force-cni-version",
        help="Write --cni-version into the config and the delegate (upstream: e2e only).",
        hidden=True,
    ),
]
MasterFileName = Annotated[
    str,
    typer.Option(
        "--multus-master-cni-file-name",
        help="Use this file of the autoconfig dir as the master (default: first by name).",
    ),
]
AutoconfigDir = Annotated[
    str,
    typer.Option(
        "--multus-autoconfig-dir", help="Where to look for the master CNI config."
    ),
]
KubeconfigHost = Annotated[
    str,
    typer.Option(
        "--multus-kubeconfig-file-host",
        help="The kubeconfig path written into the config (the host's view).",
    ),
]
MultusCniConfDir = Annotated[
    str,
    typer.Option(
        "--multus-cni-conf-dir",
        help="Written as cniConf like upstream (the plugin ignores that key).",
    ),
]
NamespaceIsolation = Annotated[
    bool,
    typer.Option(
        "--namespace-isolation/--no-namespace-isolation",
        help="Pods may only use NADs of their own namespace (plus global namespaces).",
    ),
]
GlobalNamespaces = Annotated[
    str,
    typer.Option(
        "--global-namespaces",
        help="Comma-separated namespaces whose NADs every pod may use.",
    ),
]
LogToStderr = Annotated[
    bool,
    typer.Option(
        "--multus-log-to-stderr/--no-multus-log-to-stderr",
        help="Plugin logs to stderr (false writes logToStderr: false).",
    ),
]
LogLevel = Annotated[
    str,
    typer.Option("--multus-log-level", help="Plugin log level: debug, verbose, error or panic."),
]
LogFile = Annotated[str, typer.Option("--multus-log-file", help="Plugin log file on the host.")]
OverrideNetworkName = Annotated[
    bool,
    typer.Option(
        "--override-network-name/--no-override-network-name",
        help="Name the Multus network after the master network.",
    ),
]
AdditionalBinDir = Annotated[
    str,
    typer.Option("--additional-bin-dir", help="Written as binDir (extra plugin directory)."),
]
ReadinessIndicatorFile = Annotated[
    str,
    typer.Option(
        "--readiness-indicator-file",
        help="The plugin waits for this file before every ADD.",
    ),
]


def generate_options(**values: Any) -> GenerateOptions:
    """Build ``GenerateOptions`` from the CLI's parameter names."""
    return GenerateOptions(
        cni_version=values["cni_version"],
        force_cni_version=values["force_cni_version"],
        override_network_name=values["override_network_name"],
        namespace_isolation=values["namespace_isolation"],
        global_namespaces=values["global_namespaces"],
        log_to_stderr=values["multus_log_to_stderr"],
        log_level=values["multus_log_level"],
        log_file=values["multus_log_file"],
        additional_bin_dir=values["additional_bin_dir"],
        multus_cni_conf_dir=values["multus_cni_conf_dir"],
        readiness_indicator_file=values["readiness_indicator_file"],
        kubeconfig=values["multus_kubeconfig_file_host"],
    )


DEFAULT_MULTUS_CNI_CONF_DIR = _DEFAULTS.multus_cni_conf_dir
DEFAULT_KUBECONFIG_HOST = _DEFAULTS.kubeconfig
