"""The only module that imports rich. Human text goes to stderr; stdout is for data."""

from __future__ import annotations

import sys
from collections.abc import Sequence
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

def note_line(message: str) -> None:
    """Print one informational line on stderr (``note: …``, dim on a terminal)."""
    if sys.stderr.isatty():
        from rich.text import Text

        stderr_console().print(Text("note: ", style="dim bold") + Text(message, style="dim"))
    else:
        sys.stderr.write(f"note: {message}\n")


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    row_styles: Sequence[str] | None = None,
    section_ends: Sequence[bool] | None = None,
    caption: str | None = None,
) -> None:
    """Print a table on stdout. Cells are plain text, never rich markup (they may hold
    user data). ``row_styles`` colours whole rows; ``section_ends`` draws a line after a row.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, caption=caption, caption_justify="left")
    for header in headers:
        table.add_column(header, overflow="fold")
    for i, row in enumerate(rows):
        style = row_styles[i] if row_styles else ""
        end = section_ends[i] if section_ends else False
        table.add_row(*(Text(cell) for cell in row), style=style or None, end_section=end)
    stdout_console().print(table)

