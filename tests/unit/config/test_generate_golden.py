"""Golden cases for the Multus config generator (tests/golden/generate/<case>/)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from multusctl.config.generate import GenerateOptions, generate
from multusctl.errors import MultusError

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "generate"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
OUTPUT_CASES = [c for c in CASES if not (GOLDEN / c / "expected.error").exists()]
#: upstream re-marshals the master with sorted keys; these masters are not sorted.
SEMANTIC_ONLY = {"upstream-capabilities-conf", "upstream-capabilities-conflist"}


def _load(case: str) -> tuple[bytes, str, GenerateOptions]:
    directory = GOLDEN / case
    (master,) = sorted(directory.glob("master.*"))
    raw = json.loads((directory / "options.json").read_text())
    fields = {f.name for f in dataclasses.fields(GenerateOptions)}
    assert set(raw) <= fields, f"unknown option keys {set(raw) - fields}"
    return master.read_bytes(), master.name, GenerateOptions(**raw)


def test_there_are_upstream_cases() -> None:
    assert len([c for c in CASES if c.startswith("upstream-")]) == 6


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    master, name, options = _load(case)
    directory = GOLDEN / case
    error_file = directory / "expected.error"
    if error_file.exists():
        with pytest.raises(MultusError) as info:
            generate(master, options, f"/etc/cni/net.d/{name}")
        assert error_file.read_text().strip() in str(info.value)
        return
    (expected_file,) = sorted(directory.glob("expected.conf*"))
    result = generate(master, options, f"/etc/cni/net.d/{name}")
    assert result.filename == "00-multus" + expected_file.suffix
    expected = expected_file.read_text()
    assert json.loads(result.text) == json.loads(expected)
    if case not in SEMANTIC_ONLY:
        assert result.text == expected


@pytest.mark.parametrize("case", sorted(SEMANTIC_ONLY))
def test_semantic_cases_differ_only_in_delegate_key_order(case: str) -> None:
    """Every line equals upstream's except the embedded master, which is the same JSON."""
    master, name, options = _load(case)
    (expected_file,) = sorted((GOLDEN / case).glob("expected.conf*"))
    got = generate(master, options, name).text.splitlines()
    want = expected_file.read_text().splitlines()
    assert len(got) == len(want)
    differing = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert len(differing) == 1
    (index,) = differing
    assert got[index - 1].strip() == '"delegates": ['
    assert json.loads(got[index]) == json.loads(want[index])


@pytest.mark.parametrize("case", OUTPUT_CASES)
def test_output_is_byte_stable(case: str) -> None:
    master, name, options = _load(case)
    first = generate(master, options, name).text
    assert all(generate(master, options, name).text == first for _ in range(5))
    # a copy of the inputs (not the same objects) gives the same bytes too
    assert generate(bytes(master), dataclasses.replace(options), name).text == first
