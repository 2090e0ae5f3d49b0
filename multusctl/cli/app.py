"""The ``multusctl`` typer application: one module per command under ``commands/``."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from multusctl import __version__
from multusctl.cli import console
from multusctl.errors import ExitStatus, MultusError

#: ``multusctl <name>`` → (module under ``multusctl.cli.commands``, has a custom click class).
#: Modules are imported only when their command runs (or for ``--help``), so a command
#: never pays for the imports of the others (the daemon's, the installer's, …).
COMMANDS: dict[str, tuple[str, bool]] = {
    "cni": ("cni", False),
    "explain": ("explain", False),
    "validate-nad": ("validate_nad", False),
    "entrypoint": ("entrypoint", True),
    "generate-config": ("generate_config", True),
    "kubeconfig": ("kubeconfig", True),
    "install": ("install", True),
    "daemon": ("daemon", False),
}


def load_command(name: str) -> Any:
    """Import one command module and build its click command."""
    import importlib

    module_name, custom_cls = COMMANDS[name]
    module = importlib.import_module(f"multusctl.cli.commands.{module_name}")
    single = typer.Typer(context_settings={"help_option_names": ["-h", "--help"]})
    kwargs: dict[str, object] = {"name": name, "help": module.__doc__}
    if custom_cls:
        kwargs["cls"] = module.Command
    single.command(**kwargs)(module.command)  # type: ignore[arg-type]
    command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A typer group whose subcommands are loaded on first use."""

    # ``Any``: typer 0.29 vendors its own click, older releases use click itself.
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]


app = typer.Typer(
    name="multusctl",
    cls=LazyGroup,
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


def main() -> None:
    """Console-script entry point: render deliberate errors as one line, never a traceback."""
    try:
        app(standalone_mode=True)
    except MultusError as err:
        console.error_line(str(err))
        sys.exit(err.exit_status)
    except KeyboardInterrupt:
        sys.exit(ExitStatus.INTERRUPTED)
