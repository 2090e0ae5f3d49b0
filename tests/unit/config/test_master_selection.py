"""Master config selection and output naming (ENT4-06, ENT4-07, HEAD-13)."""

from __future__ import annotations

import pytest

from multusctl.config.generate import output_filename, select_master


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["10-b.conf", "05-a.conflist"], "05-a.conflist"),
        (["00-multus.conf", "00-multus.conflist", "10-flannel.conflist"], "10-flannel.conflist"),
        (["99-x.json", "20-y.conf"], "20-y.conf"),
        (["10-a.json"], "10-a.json"),
        (["10-a.conf.old", "README", "multus.d", ".00-multus.conf.x.tmp"], None),
        (["00-multus.conf"], None),
        ([], None),
        (["B.conf", "a.conf"], "B.conf"),  # byte order, as libcni sorts
    ],
)
def test_first_candidate_wins(names: list[str], expected: str | None) -> None:
    assert select_master(names) == expected


def test_explicit_name_must_be_present() -> None:
    assert select_master(["05-a.conf", "10-b.conf"], "10-b.conf") == "10-b.conf"
    assert select_master(["05-a.conf"], "10-b.conf") is None


@pytest.mark.parametrize(
    ("version", "name"),
    [
        ("0.1.0", "00-multus.conf"),
        ("0.3.1", "00-multus.conf"),
        ("0.4.0", "00-multus.conf"),
        ("1.0.0", "00-multus.conflist"),
        ("1.1.0", "00-multus.conflist"),
        ("2.0.0", "00-multus.conflist"),
    ],
)
def test_output_name_by_version(version: str, name: str) -> None:
    assert output_filename(version) == name
