"""The only module that imports rich. Human text goes to stderr; stdout is for data."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def error_line(message: str) -> None:
    """Print one readable error line on stderr (red on a terminal, plain otherwise)."""
    if sys.stderr.isatty():
        stderr_console().print(f"[bold red]error:[/] {message}", markup=True)
    else:
        sys.stderr.write(f"error: {message}\n")


def print_json(payload: Any) -> None:
    """Print a JSON document on stdout, 2-space indented, with a trailing newline."""
    import json

    sys.stdout.write(json.dumps(payload, indent=2) + "\n")
