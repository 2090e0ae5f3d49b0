"""The ``multusctl`` typer application: one module per command under ``commands/``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from multusctl import __version__
from multusctl.cli import console
from multusctl.errors import ExitStatus, MultusError

app = typer.Typer(
    name="multusctl",
    help="Multus CNI in Python: the meta-plugin, its node installer and tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"multusctl {__version__}\n")
        raise typer.Exit


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version",
        callback=version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
]


@app.callback()
def root(
    version: VersionOption = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")
    ] = False,
) -> None:
    """Multus CNI in Python: the meta-plugin, its node installer and tools."""
    _state["debug"] = debug


_state: dict[str, bool] = {"debug": False}


def _register() -> None:
    from multusctl.cli.commands import cni

    app.command(name="cni", help=cni.__doc__)(cni.command)

    from multusctl.cli.commands import explain

    app.command(name="explain", help=explain.__doc__)(explain.command)

    from multusctl.cli.commands import validate_nad

    app.command(name="validate-nad", help=validate_nad.__doc__)(validate_nad.command)

    from multusctl.cli.commands import entrypoint

    app.command(name="entrypoint", cls=entrypoint.Command, help=entrypoint.__doc__)(
        entrypoint.command
    )

    from multusctl.cli.commands import generate_config

    app.command(name="generate-config", cls=generate_config.Command, help=generate_config.__doc__)(
        generate_config.command
    )

    from multusctl.cli.commands import kubeconfig

    app.command(name="kubeconfig", cls=kubeconfig.Command, help=kubeconfig.__doc__)(
        kubeconfig.command
    )

    from multusctl.cli.commands import install

    app.command(name="install", cls=install.Command, help=install.__doc__)(install.command)

    from multusctl.cli.commands import daemon

    app.command(name="daemon", help=daemon.__doc__)(daemon.command)


_register()


def main() -> None:
    """Console-script entry point: render deliberate errors as one line, never a traceback."""
    try:
        app(standalone_mode=True)
    except MultusError as err:
        console.error_line(str(err))
        sys.exit(err.exit_status)
    except KeyboardInterrupt:
        sys.exit(ExitStatus.INTERRUPTED)
