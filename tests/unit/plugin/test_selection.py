"""Unit and property tests of multusctl.plugin.selection beyond the golden cases."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multusctl.errors import CniCode, DecodeError, InvalidConfig, MultusError
from multusctl.plugin import selection
from multusctl.plugin.selection import (
    NetworkSelection,
    check_gateways,
    parse_default_network,
    parse_networks,
)


def test_selection_is_frozen_and_keyword_only() -> None:
    sel = NetworkSelection(name="a", namespace="b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sel.name = "c"  # type: ignore[misc]
    with pytest.raises(TypeError):
        NetworkSelection("a", "b")  # type: ignore[call-arg]


def test_every_field_reaches_the_dataclass() -> None:
    (sel,) = parse_networks(
        json.dumps(
            [
                {
                    "name": "n",
                    "ips": ["10.0.0.1/24"],
                    "mac": "02:00:00:00:00:01",
                    "infiniband-guid": "00:11:22:33:44:55:66:77",
                    "interface": "net9",
                    "portMappings": [{"hostPort": 1, "containerPort": 2}],
                    "bandwidth": {"ingressRate": 3},
                    "deviceID": "0000:00:01.0",
                    "cni-args": {"k": "v"},
                    "default-route": ["10.0.0.254"],
                }
            ]
        ),
        "pods",
    )
    assert sel == NetworkSelection(
        name="n",
        namespace="pods",
        interface="net9",
        ips=("10.0.0.1/24",),
        mac="02:00:00:00:00:01",
        infiniband_guid="00:11:22:33:44:55:66:77",
        port_mappings=({"hostPort": 1, "containerPort": 2},),
        bandwidth={"ingressRate": 3, "ingressBurst": 0, "egressRate": 0, "egressBurst": 0},
        cni_args={"k": "v"},
        device_id="0000:00:01.0",
        default_route=("10.0.0.254",),
    )


def test_default_route_absent_empty_and_null_differ() -> None:
    absent, empty, null = (
        parse_networks(f'[{{"name":"a"{extra}}}]', "ns")[0]
        for extra in ("", ',"default-route":[]', ',"default-route":null')
    )
    assert absent.default_route is None
    assert empty.default_route == ()
    assert null.default_route is None
    assert "default-route" not in absent.to_json()
    assert empty.to_json()["default-route"] == []


def test_cni_args_numbers_follow_go_float64() -> None:
    (sel,) = parse_networks('[{"name":"a","cni-args":{"i":7,"f":1.0,"e":1e3,"x":0.5}}]', "ns")
    assert sel.cni_args == {"i": 7, "f": 1, "e": 1000, "x": 0.5}
    assert isinstance(sel.cni_args["f"], int)


def test_error_classes() -> None:
    with pytest.raises(DecodeError) as syntax:
        parse_networks("[", "ns")
    assert syntax.value.cni_code == CniCode.DECODE_FAILURE
    with pytest.raises(InvalidConfig) as invalid:
        parse_networks("Bad", "ns")
    assert invalid.value.cni_code == CniCode.INVALID_NETWORK_CONFIG


def test_default_network_keeps_the_inner_error_class() -> None:
    with pytest.raises(DecodeError) as info:
        parse_default_network("[x", "kube-system")
    assert info.value.msg.startswith("tryLoadK8sPodDefaultNetwork: failed to parse CRD object: ")


@pytest.mark.parametrize(
    ("routes", "ok"),
    [
        ([], True),
        ([None, None], True),
        ([("10.0.0.1",), ("2001:db8::1",)], True),
        ([("10.0.0.1",), (), None], True),
        ([("10.0.0.1",), ("10.0.0.2",)], False),
        ([("2001:db8::1", "2001:db8::2")], False),
        ([("",), ("",)], False),
    ],
)
def test_check_gateways(routes: list[tuple[str, ...] | None], ok: bool) -> None:
    sels = [
        NetworkSelection(name=str(i), namespace="ns", default_route=r) for i, r in enumerate(routes)
    ]
    if ok:
        check_gateways(sels)
    else:
        with pytest.raises(
            InvalidConfig, match=r"^multus does not support ECMP for default-route$"
        ):
            check_gateways(sels)


@pytest.mark.parametrize(
    ("fmt", "printed"),
    [
        ("plain", "plain"),
        ("a%d", "a%!d(MISSING)"),
        ("a%%b", "a%b"),
        ("a%", "a%!(NOVERB)"),
        ("a%5.2f", "a%!f(MISSING)"),
        ("a%-+#0 x", "a%!x(MISSING)"),
        ("a%*d", "a%!(BADWIDTH)%!d(MISSING)"),
        ("a%.*d", "a%!(BADPREC)%!d(MISSING)"),
        ("a%[1]d", "a%!d(BADINDEX)"),
        ("a%[x]d", "a%!d(BADINDEX)"),
        ("a%[1]%", "a%"),
        ("a%é", "a%!é(MISSING)"),
        ("a%.", "a%!.(MISSING)"),
    ],
)
def test_go_errorf_without_arguments(fmt: str, printed: str) -> None:
    assert selection._go_errorf(fmt) == printed


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("abc", '"abc"'), ('a"b\\', '"a\\"b\\\\"'), ("\x01\n\x7f", '"\\x01\\n\\x7f"'), ("é", '"é"')],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert selection._go_quote(text) == quoted


_ALPHABET = st.sampled_from(list('[]{}",:/@ %-.0123456789abcxyzABC_ \t\n\\\u00a0\u00e9nulltrefas'))


def _outcome(parse: Callable[[str, str], object], *args: str) -> MultusError | None:
    """Run ``parse``; return the MultusError it raised (anything else propagates)."""
    try:
        result = parse(*args)
    except MultusError as exc:
        return exc
    sels: list[NetworkSelection] = []
    for sel in result if isinstance(result, list) else [result]:
        assert isinstance(sel, NetworkSelection)
        json.dumps(sel.to_json())
        sels.append(sel)
    try:
        check_gateways(sels)
    except InvalidConfig as exc:
        return exc
    return None


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=_ALPHABET, max_size=40)), st.text(max_size=5))
def test_arbitrary_text_raises_only_multus_errors(annotation: str, namespace: str) -> None:
    for parse in (parse_networks, parse_default_network):
        error = _outcome(parse, annotation, namespace)
        if error is not None:
            assert error.msg
            assert error.cni_code in (CniCode.DECODE_FAILURE, CniCode.INVALID_NETWORK_CONFIG)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_KEYS = st.sampled_from(
    ["name", "namespace", "ips", "mac", "infiniband-guid", "interface", "interfaceRequest",
     "portMappings", "bandwidth", "deviceID", "cni-args", "default-route", "NAME", "other"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_KEYS, _JSON_VALUES, max_size=5) | _JSON_VALUES, max_size=3))
def test_arbitrary_json_raises_only_multus_errors(doc: list[object]) -> None:
    error = _outcome(parse_networks, json.dumps(doc), "ns")
    if error is not None:
        assert error.msg.startswith(
            ("parsePodNetworkAnnotation: ", "failed to parse ", "multus does not support ECMP")
        )
