"""Golden cases for the networks / default-network annotations (tests/golden/selection/).

Each ``<case>.json`` holds ``annotation`` and ``namespace`` plus either ``expected``
(``to_json()`` of every selection) or ``error`` and ``code`` (exact message, CNI code).
Optional keys: ``"function": "default_network"`` parses with
:func:`parse_default_network` (``expected`` then holds the one selection) and
``"check_gateways": true`` runs the ECMP check on the result. Adding a case is adding
a file. ``_gocheck/`` re-checks every case against Go's standard library
(``cd tests/golden/selection/_gocheck && go run . ..``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from multusctl.errors import MultusError
from multusctl.plugin.selection import (
    NetworkSelection,
    check_gateways,
    parse_default_network,
    parse_networks,
)

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "selection"
CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))
KEYS = {"annotation", "namespace", "function", "check_gateways", "expected", "error", "code"}


def _run(case: dict[str, Any]) -> list[NetworkSelection]:
    if case.get("function", "networks") == "default_network":
        selections = [parse_default_network(case["annotation"], case["namespace"])]
    else:
        assert case.get("function", "networks") == "networks"
        selections = parse_networks(case["annotation"], case["namespace"])
    if case.get("check_gateways"):
        check_gateways(selections)
    return selections


def test_there_are_many_cases() -> None:
    assert len(CASES) >= 100
    assert sum(c.startswith("seed-") for c in CASES) >= 10


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    case = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert set(case) <= KEYS, f"unknown keys {set(case) - KEYS}"
    assert ("error" in case) != ("expected" in case)
    assert name.startswith("error-") == ("error" in case)
    if "error" in case:
        with pytest.raises(MultusError) as info:
            _run(case)
        assert info.value.msg == case["error"]
        assert str(info.value) == case["error"]
        assert int(info.value.cni_code) == case["code"]
    else:
        assert [s.to_json() for s in _run(case)] == case["expected"]
