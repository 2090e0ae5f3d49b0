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


class StatusLine:
    """A transient one-line status with a spinner on a terminal (stdout); for waits.

    ``update`` shows or changes the text, ``stop`` removes it. Only meant for a TTY; the
    caller prints plain lines otherwise.
    """

    def __init__(self) -> None:
        self._status: Any = None

    def update(self, text: str) -> None:
        if self._status is None:
            self._status = stdout_console().status(text)
            self._status.start()
        else:
            self._status.update(text)

    def print(self, text: str, style: str = "") -> None:
        """Print a permanent line above the status (plain text, never markup)."""
        from rich.text import Text

        console = self._status.console if self._status is not None else stdout_console()
        console.print(Text(text, style=style))

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def explain_table(plan: dict[str, Any]) -> None:
    """Human view of ``multusctl explain``: one row per delegate, on stdout."""
    import json

    from rich.table import Table

    table = Table(title=f"pod {plan['pod']}", show_lines=True)
    for column in ("#", "network", "ifname", "master", "plugins", "CNI_ARGS / runtimeConfig"):
        table.add_column(column, overflow="fold")
    for idx, d in enumerate(plan["delegates"]):
        confs = d["conf"] if isinstance(d["conf"], list) else [d["conf"]]
        plugins = ", ".join(str(c.get("type", "")) for c in confs)
        extra = d["cniArgs"]
        if d["runtimeConfig"]:
            extra += "\n" + json.dumps(d["runtimeConfig"])
        master = "yes" if d["master"] else ""
        table.add_row(str(idx), d["name"], d["ifname"], master, plugins, extra)
    stdout_console().print(table)


def print_json_records(payload: dict[str, Any], list_key: str) -> None:
    """Print a JSON object on stdout whose ``list_key`` list may hold many records: the
    envelope is indented, each record is one compact line (C-speed even for 10,000s)."""
    import json

    encode = json.JSONEncoder(separators=(", ", ": ")).encode
    parts = ["{\n"]
    for i, (key, value) in enumerate(payload.items()):
        parts.append(f"  {encode(key)}: ")
        if key == list_key and isinstance(value, list) and value:
            parts.append("[\n    " + ",\n    ".join(map(encode, value)) + "\n  ]")
        else:
            parts.append(encode(value))
        parts.append(",\n" if i < len(payload) - 1 else "\n")
    parts.append("}\n")
    sys.stdout.write("".join(parts))
