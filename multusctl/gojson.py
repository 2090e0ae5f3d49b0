"""JSON text exactly as Go's ``encoding/json`` writes it (``Marshal``/``MarshalIndent``).

Upstream Multus writes results and annotations with Go; users and tools compare those bytes
(e.g. the network-status annotation), so multusctl reproduces Go's escaping (``<``, ``>``,
``&`` as ``\\u003c``…, UTF-8 kept) and layout. Key order is the caller's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


#: Any character that Go writes other than as itself.
_SPECIAL = re.compile(r'[\x00-\x1f"\\<>&\u2028\u2029\ud800-\udfff]')


def go_string(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (HTML-safe, UTF-8 kept)."""
    if _SPECIAL.search(text) is None:  # the common case: every character stands for itself
        return f'"{text}"'
    parts = ['"']
    for ch in text:
        escaped = GO_ESCAPES.get(ch)
        if escaped is not None:
            parts.append(escaped)
        elif ch < " ":
            parts.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":  # a lone surrogate is invalid UTF-8 for Go
            parts.append("\ufffd")
        else:
            parts.append(ch)
    parts.append('"')
    return "".join(parts)


def dumps(value: Any, indent: int | None, level: int = 0) -> str:
    """``json.MarshalIndent(v, "", " " * indent)`` (or ``json.Marshal`` for None)."""
    if isinstance(value, str):
        return go_string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    colon = ":" if indent is None else ": "
    if isinstance(value, Mapping):
        items = [
            go_string(str(k)) + colon + dumps(v, indent, level + 1) for k, v in value.items()
        ]
        return _container("{", "}", items, indent, level)
    if isinstance(value, list | tuple):
        items = [dumps(v, indent, level + 1) for v in value]
        return _container("[", "]", items, indent, level)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _container(open_: str, close: str, items: list[str], indent: int | None, level: int) -> str:
    if not items:
        return open_ + close
    if indent is None:
        return open_ + ",".join(items) + close
    pad = " " * indent
    inner = ",\n".join(pad * (level + 1) + item for item in items)
    return f"{open_}\n{inner}\n{pad * level}{close}"
