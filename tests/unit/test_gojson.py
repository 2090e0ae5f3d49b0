"""Go ``encoding/json`` string escaping (multusctl.gojson), checked against an oracle built
from the standard library: ``json.dumps(ensure_ascii=False)`` plus Go's HTML-safe escapes
and its replacement of lone surrogates."""

from __future__ import annotations

import json

import pytest

from multusctl import gojson


def go_oracle(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(raw, escaped)
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in out)


def test_every_bmp_code_point_alone_and_inside_plain_text() -> None:
    for point in [*range(0x10000), 0x1F600, 0x10FFFF]:
        ch = chr(point)
        for text in (ch, f"net-{ch}/eth0"):
            assert gojson.go_string(text) == go_oracle(text), hex(point)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", '""'),
        ("10.244.0.12/24", '"10.244.0.12/24"'),
        ("é€😀", '"é€😀"'),
        ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),
        ('q"\\', '"q\\"\\\\"'),
        ("\n\r\t\b\f\x01", '"\\n\\r\\t\\b\\f\\u0001"'),
        ("x\ud800y", '"x\ufffdy"'),
    ],
)
def test_known_escapes(text: str, expected: str) -> None:
    assert gojson.go_string(text) == expected
