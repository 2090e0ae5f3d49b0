"""Golden cases for the network-status annotation (tests/golden/status/<case>/).

``input.json`` is a list of delegates (``delegate_name``, ``master``, ``result`` and
optionally ``device_info``) in attachment order; ``expected.txt`` is the exact
annotation value :func:`render` must produce for all their entries (``[]`` when no
delegate yields one: upstream then writes nothing). ``_gocheck/`` re-encodes every
expected.txt with Go's json.MarshalIndent to prove the byte format
(``cd tests/golden/status/_gocheck && go run . ..``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from multusctl.plugin.status import entries_for, render

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "status"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.json").exists())
KEYS = {"delegate_name", "master", "result", "device_info"}


def test_there_are_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    delegates = json.loads((GOLDEN / case / "input.json").read_text(encoding="utf-8"))
    entries = []
    for d in delegates:
        assert set(d) <= KEYS, f"unknown keys {set(d) - KEYS}"
        entries += entries_for(d["delegate_name"], d["master"], d["result"], d.get("device_info"))
    expected = (GOLDEN / case / "expected.txt").read_text(encoding="utf-8")
    assert render(entries) == expected
    # the value is JSON that holds exactly the entries
    assert json.loads(expected) == entries
