"""A strict reader for the block-style YAML that kubeconfig files are written in.

The thin plugin reads its kubeconfig on every CNI call, and importing PyYAML costs about
10 ms there. Multus kubeconfigs (ours, upstream's entrypoint, kubeadm's) use a small
subset of YAML: block mappings and sequences of mappings, with plain, single- or
double-quoted scalars. :func:`parse` reads exactly that subset and returns ``None`` for
anything else (flow style, block scalars, anchors, tags, numbers, multi-line values…),
so the caller falls back to PyYAML and the result is always what PyYAML would give.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
#: First characters a plain scalar may not start with (indicators) in this subset.
_INDICATORS = frozenset("[]{}&*!|>%@`#,?:-\"'")
_NUMBER = re.compile(r"[-+]?(\.?[0-9]|0[xo])")
_BOOLS = {"true": True, "True": True, "TRUE": True,
          "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


class _Unsupported(Exception):
    pass


def _scalar(text: str) -> Any:
    if not text or text in _NULLS:
        return None
    if text[0] == '"':
        if not text.endswith('"') or len(text) < 2:
            raise _Unsupported
        body = text[1:-1]
        if '"' in body.replace('\\"', "") or "\\u" in body or "\\x" in body:
            raise _Unsupported
        try:
            value = json.loads(text)
        except ValueError:
            raise _Unsupported from None
        if not isinstance(value, str):
            raise _Unsupported
        return value
    if text[0] == "'":
        if not text.endswith("'") or len(text) < 2:
            raise _Unsupported
        body = text[1:-1]
        if "'" in body.replace("''", ""):
            raise _Unsupported
        return body.replace("''", "'")
    if text in _BOOLS:
        return _BOOLS[text]
    if text[0] in _INDICATORS or " #" in text or ": " in text or text.endswith(":"):
        raise _Unsupported
    if _NUMBER.match(text) or text.lower() in {"yes", "no", "on", "off", "y", "n"}:
        raise _Unsupported  # numbers, YAML 1.1 booleans, dates: leave them to PyYAML
    return text


def _lines(text: str) -> list[tuple[int, str]]:
    out = []
    for raw in text.splitlines():
        if "\t" in raw:
            raise _Unsupported
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped in ("---", "...") or stripped.startswith(("%", "--- ")):
            raise _Unsupported
        out.append((len(raw) - len(raw.lstrip(" ")), stripped))
    return out


class _Reader:
    def __init__(self, lines: list[tuple[int, str]]) -> None:
        self.lines = lines
        self.i = 0

    def mapping(self, indent: int, first: str | None = None) -> dict[str, Any]:
        """Keys at exactly ``indent``; ``first`` is a key line already taken (after ``- ``)."""
        result: dict[str, Any] = {}
        pending = first
        while True:
            if pending is not None:
                line, pending = pending, None
            elif self.i < len(self.lines) and self.lines[self.i][0] == indent:
                line = self.lines[self.i][1]
                if line.startswith("- ") or line == "-":
                    return result
                self.i += 1
            else:
                return result
            key, sep, rest = line.partition(":")
            if not sep or not _KEY.match(key) or (rest and not rest.startswith(" ")):
                raise _Unsupported
            if key in result:
                raise _Unsupported
            value = rest.strip()
            if value:
                result[key] = _scalar(value)
            else:
                result[key] = self.block(indent)

    def block(self, parent: int) -> Any:
        """The value of a key whose text is on the following lines."""
        if self.i >= len(self.lines):
            return None
        indent, line = self.lines[self.i]
        if line.startswith("- ") and indent >= parent:
            return self.sequence(indent)
        if indent > parent:
            return self.mapping(indent)
        return None

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while self.i < len(self.lines):
            at, line = self.lines[self.i]
            if at != indent or not line.startswith("- "):
                break
            self.i += 1
            item = line[2:].lstrip(" ")
            inner = indent + (len(line) - len(item))
            if ":" in item and not item.startswith(("'", '"')):
                items.append(self.mapping(inner, first=item))
            else:
                items.append(_scalar(item))
        return items


def parse(text: str) -> dict[str, Any] | None:
    """The document as PyYAML's safe loader would read it, or None outside the subset."""
    try:
        lines = _lines(text)
        if not lines or lines[0][0] != 0:
            return None
        reader = _Reader(lines)
        doc = reader.mapping(0)
        if reader.i != len(lines):
            return None
        return doc
    except _Unsupported:
        return None
