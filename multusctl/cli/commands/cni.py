"""Run the Multus CNI plugin core (as the `multus` executable does): env + stdin in, JSON out."""

from __future__ import annotations

import os

import typer


def command() -> None:
    """Run the Multus CNI plugin core: CNI_* environment and config on stdin, result on stdout.

    This is the same code as the `multus` executable; runtimes normally call that one.
    """
    from multusctl.bin import multus

    raise typer.Exit(multus.run(["multus"], os.environ))


__all__ = ["command"]
