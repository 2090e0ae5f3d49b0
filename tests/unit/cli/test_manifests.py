"""The fast YAML path of multusctl.cli.manifests gives exactly what yaml.safe_load_all gives."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from multusctl.cli import manifests

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=15)
    | st.sampled_from(["yes", "no", "on", "off", "~", "null", "0x1f", "0o17", "1e3", "1_000",
                       "2024-01-02", "12:30:00", "<<", "=", "-", "---", "...", "'", '"', "#x",
                       "k8s.cni.cncf.io/v1", "@a", "!b", "&c", "*d", "? e", ": f", "- g"])
    | st.dates()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(values, min_size=1, max_size=3),
    st.booleans(),
    st.sampled_from([None, "'", '"', "|"]),
)
def test_fast_loader_equals_safe_load_all(docs: list[Any], flow: bool, style: str | None) -> None:
    text = yaml.safe_dump_all(docs, default_flow_style=flow, default_style=style,
                              explicit_start=True, allow_unicode=True)
    assert manifests.load_all(text) == list(yaml.safe_load_all(text))


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "<<: {a: 1}\nb: 2\n",
        "a: !!str 5\nb: !!int '7'\n",
        "---\n---\nfoo\n...\n",
        "a: 1\na: 2\n",
        "d: 2024-01-02\nt: 2001-12-14t21:59:43.10-05:00\n",
        "",
        "# only a comment\n",
        "- !!binary aGVsbG8=\n",
        "!!set {a, b}\n",
    ],
)
def test_fast_loader_special_cases(text: str) -> None:
    assert manifests.load_all(text) == list(yaml.safe_load_all(text))


def test_complex_keys_fail_like_pyyaml() -> None:
    with pytest.raises(yaml.YAMLError):
        manifests.load_all("? [a, b]\n: 1\n")


def test_dates_survive() -> None:
    assert manifests.load_all("d: 2024-01-02\n") == [{"d": datetime.date(2024, 1, 2)}]


def test_list_items_get_their_own_labels() -> None:
    docs = [{"kind": "List", "items": [{"kind": "A"}, {"kind": "B"}]}, None, {"kind": "C"}]
    labels = [d.label for d in manifests.documents("f.yaml", docs)]
    assert labels == ["f.yaml:1.items[0]", "f.yaml:1.items[1]", "f.yaml:2", "f.yaml:3"]


def test_bad_yaml_is_one_line() -> None:
    with pytest.raises(manifests.InputError) as info:
        manifests.parse("x.yaml", "a: [\n")
    assert str(info.value).startswith("x.yaml: invalid YAML at line 2 column 1")
    assert "\n" not in str(info.value)
