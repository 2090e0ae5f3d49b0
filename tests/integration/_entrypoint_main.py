"""Run `multusctl entrypoint` with only the installer commands registered.

The integration tests start the entrypoint through this launcher so they exercise the
command module, its argv handling and its signal handling in a real process without
depending on every other command importing cleanly. `test_entrypoint_sh` covers the real
`multusctl` console script.
"""

from __future__ import annotations

import sys

import typer

from multusctl.cli import console
from multusctl.cli.commands import entrypoint, generate_config, kubeconfig
from multusctl.errors import MultusError

app = typer.Typer(context_settings={"help_option_names": ["-h", "--help"]})


@app.callback()
def _root() -> None:
    """multusctl (installer commands only)."""


app.command(name="entrypoint", cls=entrypoint.Command)(entrypoint.command)
app.command(name="generate-config", cls=generate_config.Command)(generate_config.command)
app.command(name="kubeconfig", cls=kubeconfig.Command)(kubeconfig.command)

if __name__ == "__main__":
    try:
        app()
    except MultusError as err:
        console.error_line(str(err))
        sys.exit(err.exit_status)
