"""Golden cases of the NAD validator: ``tests/golden/validate_nad/<case>.yaml`` in, the
findings in ``<case>.expected.json`` out (adding a case = adding files).

The expected files are written and reviewed by hand; nothing here rewrites them. An
optional ``<case>.options.json`` holds ``{"bin_dirs": [...relative dirs...], "strict": bool}``.
Document ``N`` (1-based) of ``<case>.yaml`` is labelled ``<case>.yaml:N``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from multusctl.nad.findings import CHECKS
from multusctl.nad.validate import cross_check, validate_nad

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "validate_nad"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))
SEED_CASES = [c for c in CASES if c.startswith("seed-")]


def run_case(name: str) -> list[dict[str, Any]]:
    text = (GOLDEN / f"{name}.yaml").read_text()
    options_file = GOLDEN / f"{name}.options.json"
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    bin_dirs = [str(GOLDEN / d) for d in options.get("bin_dirs", [])] or None
    reports = [
        validate_nad(doc, f"{name}.yaml:{i}", bin_dirs=bin_dirs,
                     strict=options.get("strict", False))
        for i, doc in enumerate(yaml.safe_load_all(text), start=1)
        if doc is not None
    ]
    findings = [f for r in reports for f in r.findings] + cross_check(reports)
    out = [f.as_dict() for f in findings]
    for item in out:  # bin-dir paths depend on the checkout
        item["message"] = item["message"].replace(str(GOLDEN), "<golden>")
    return out


def expected(name: str) -> list[dict[str, Any]]:
    path = GOLDEN / f"{name}.expected.json"
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


def test_there_are_cases() -> None:
    assert len(CASES) >= 60
    assert len(SEED_CASES) >= 6


@pytest.mark.parametrize("name", CASES)
def test_golden_case(name: str) -> None:
    assert run_case(name) == expected(name)


@pytest.mark.parametrize("name", SEED_CASES)
def test_every_seed_nad_is_valid(name: str) -> None:
    findings = run_case(name)
    assert [f for f in findings if f["severity"] == "error"] == []


def test_every_check_has_a_failing_case() -> None:
    seen: set[str] = set()
    for name in CASES:
        seen.update(f["check"] for f in expected(name))
    assert seen == set(CHECKS)


def test_every_case_file_has_its_expected_file() -> None:
    stems = {p.name.removesuffix(".expected.json") for p in GOLDEN.glob("*.expected.json")}
    assert stems == set(CASES)
