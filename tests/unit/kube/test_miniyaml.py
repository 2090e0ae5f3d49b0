"""The kubeconfig fast path reads what PyYAML reads, or declines (and PyYAML reads it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from multusctl.kube import miniyaml, rest

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "kubeconfig"
KUBECONFIGS = sorted(GOLDEN.glob("*/expected.yaml"))

KUBEADM_STYLE = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority: /etc/kubernetes/pki/ca.crt
    server: https://192.168.0.10:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: multus
  name: multus@kubernetes
current-context: multus@kubernetes
kind: Config
preferences: {}
users:
- name: multus
  user:
    tokenFile: /var/run/secrets/token
"""

ACCEPTED = [
    "a: b\n",
    "a: 'it''s'\n",
    'a: "x\\"y"\n',
    "a: true\nb: False\n",
    "a:\n  b: c\n  d:\n  - e: f\n    g: h\n  - i: j\n",
    "a:\n- b: c\nd: ~\n",
    "# comment\n\na: https://[fd00::1]:443\n",
    "insecure-skip-tls-verify: true\nserver: http://10.0.0.1:8080\n",
    "a:\n",
]

DECLINED = [
    "a: [b, c]\n",
    "a: {b: c}\n",
    "a: |\n  text\n",
    "a: &x b\nc: *x\n",
    "a: !!str b\n",
    "a: 1\n",
    "a: 0x10\n",
    "a: yes\n",
    "a: b # comment\n",
    "---\na: b\n",
    "a: b\na: c\n",
    "a:\tb\n",
    "- a\n",
    "  a: b\n",
    "a: b\n  c: d\n",
    'a: "\\u00e9"\n',
]


@pytest.mark.parametrize("path", KUBECONFIGS, ids=lambda p: p.parent.name)
def test_golden_kubeconfigs_read_as_pyyaml_reads_them(path: Path) -> None:
    text = path.read_text()
    assert miniyaml.parse(text) == yaml.safe_load(text)


def test_golden_kubeconfigs_exist() -> None:
    assert len(KUBECONFIGS) >= 5


def test_kubeadm_style_with_flow_mapping_is_declined() -> None:
    # `preferences: {}` is flow style: the fast path declines, PyYAML reads it.
    assert miniyaml.parse(KUBEADM_STYLE) is None
    without = KUBEADM_STYLE.replace("preferences: {}\n", "")
    assert miniyaml.parse(without) == yaml.safe_load(without)


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_subset_matches_pyyaml(text: str) -> None:
    assert miniyaml.parse(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", DECLINED)
def test_outside_the_subset_is_declined(text: str) -> None:
    assert miniyaml.parse(text) is None


def test_load_kubeconfig_uses_either_reader_with_the_same_result(tmp_path: Path) -> None:
    fast = tmp_path / "fast.kubeconfig"
    fast.write_text(KUBECONFIGS[0].read_text())
    slow = tmp_path / "slow.kubeconfig"
    slow.write_text(KUBECONFIGS[0].read_text() + "preferences: {}\n")
    assert miniyaml.parse(slow.read_text()) is None
    assert rest.load_kubeconfig(str(fast)) == rest.load_kubeconfig(str(slow))


_keys = st.from_regex(r"[a-z][a-z\-]{0,8}", fullmatch=True)
_scalars = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
    st.booleans(),
    st.none(),
    st.integers(),
)
_docs: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.dictionaries(_keys, inner, max_size=4),
        st.lists(st.dictionaries(_keys, inner, min_size=1, max_size=3), max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_keys, _docs, min_size=1, max_size=5),
       st.sampled_from([None, '"', "'"]))
def test_random_documents_agree_with_pyyaml_or_are_declined(
    doc: dict[str, Any], style: str | None
) -> None:
    text = yaml.safe_dump(doc, default_flow_style=False, default_style=style, width=10_000)
    parsed = miniyaml.parse(text)
    if parsed is not None:
        assert parsed == yaml.safe_load(text)
