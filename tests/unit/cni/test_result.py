"""CNI result parsing, conversion and printing (multusctl.cni.result).

The golden cases live in tests/golden/results/<case>/: ``input.json`` and ``to.txt``
plus either ``expected.json`` (what libcni v1.3.0 prints after ``GetAsVersion``) or
``error.txt`` (our error class on line 1, a substring of its message on line 2; libcni's
own refusal is kept next to it in ``libcni-error.txt``). The expected files were
produced by the real libcni: see tests/golden/results/_libcni. Adding a case means
adding a directory.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multusctl import errors
from multusctl.cni import result as cniresult

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "results"
CASES = sorted(p for p in GOLDEN.iterdir() if (p / "input.json").is_file())


def test_golden_cases_exist() -> None:
    assert len(CASES) > 60


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path) -> None:
    source = json.loads((case / "input.json").read_text())
    to_version = (case / "to.txt").read_text().strip()
    expected = case / "expected.json"
    error = case / "error.txt"
    libcni_error = case / "libcni-error.txt"
    assert expected.is_file() != error.is_file(), "a case has expected.json or error.txt"
    if expected.is_file():
        text = expected.read_text()
        converted = cniresult.convert(source, to_version)
        assert converted == json.loads(text)
        assert list(converted) == list(json.loads(text))  # key order too
        assert cniresult.render(converted) == text
        # libcni's own output reads back unchanged
        assert cniresult.render(json.loads(text)) == text
        assert cniresult.parse(text.encode()) == converted
    else:
        assert libcni_error.is_file(), "libcni refuses this case too"
        class_name, message = error.read_text().splitlines()[:2]
        cls = getattr(errors, class_name)
        with pytest.raises(cls) as info:
            cniresult.convert(source, to_version)
        assert message in info.value.msg
        assert isinstance(info.value, errors.MultusError)


def test_error_codes() -> None:
    with pytest.raises(errors.IncompatibleVersion) as info:
        cniresult.convert({"cniVersion": "1.0.0"}, "7.0.0")
    assert info.value.cni_code == 1
    with pytest.raises(errors.DecodeError) as dinfo:
        cniresult.convert({"cniVersion": "1.0.0", "ips": [{"address": "x"}]}, "1.0.0")
    assert dinfo.value.cni_code == 6
    assert dinfo.value.msg == "invalid result: ips[0].address: invalid CIDR address: x"


def test_missing_address_is_an_error() -> None:
    with pytest.raises(errors.DecodeError, match=r"ips\[0\]\.address: missing"):
        cniresult.convert({"cniVersion": "0.4.0", "ips": [{"version": "4"}]}, "1.0.0")
    with pytest.raises(errors.DecodeError, match=r"routes\[1\]\.dst: missing"):
        cniresult.convert({"cniVersion": "1.1.0", "routes": [{"dst": "::/0"}, {}]}, "1.1.0")


def test_field_names_match_case_insensitively_like_go() -> None:
    out = cniresult.convert({"cniVersion": "1.0.0", "IPS": [{"Address": "10.0.0.1/8"}]}, "1.0.0")
    assert out == {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.1/8"}]}


def test_result_version() -> None:
    assert cniresult.result_version({}) == "0.1.0"
    assert cniresult.result_version({"cniVersion": ""}) == "0.1.0"
    assert cniresult.result_version({"cniVersion": "1.1.0"}) == "1.1.0"
    with pytest.raises(errors.DecodeError, match="cniVersion"):
        cniresult.result_version({"cniVersion": 1})


def test_parse_uses_the_config_version_when_the_result_has_none() -> None:
    raw = b'{"ips": [{"address": "10.0.0.2/24"}]}'
    assert cniresult.parse(raw, "1.0.0") == {
        "cniVersion": "1.0.0",
        "ips": [{"address": "10.0.0.2/24"}],
    }
    # without a config version it is the legacy 0.1.0, which has no "ips"
    assert cniresult.parse(raw) == {"cniVersion": "0.1.0", "dns": {}}
    # a non-string version is replaced, as libcni's fixupResultVersion does
    assert cniresult.parse(b'{"cniVersion": 4}', "0.4.0") == {"cniVersion": "0.4.0", "dns": {}}
    # the declared version wins over the config's
    assert cniresult.parse(b'{"cniVersion": "0.3.1"}', "1.0.0")["cniVersion"] == "0.3.1"


def test_parse_null_is_an_empty_result() -> None:
    assert cniresult.parse(b"null", "1.1.0") == {"cniVersion": "1.1.0"}


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"x"', b"42", b"not json"])
def test_parse_rejects_non_objects(raw: bytes) -> None:
    with pytest.raises(errors.DecodeError, match="failed to unmarshal raw result"):
        cniresult.parse(raw, "1.0.0")


def test_parse_unknown_version() -> None:
    expected = r'unsupported CNI result version "2\.0\.0"'
    with pytest.raises(errors.IncompatibleVersion, match=expected):
        cniresult.parse(b'{"cniVersion": "2.0.0"}')


def test_parse_invalid_utf8_is_replaced() -> None:
    out = cniresult.parse(b'{"cniVersion": "1.0.0", "interfaces": [{"name": "a\xffb"}]}')
    assert out["interfaces"] == [{"name": "a\ufffdb"}]


def test_render_compact() -> None:
    result = {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.0.0.2/24"}]}
    assert cniresult.render(result, indent=None) == (
        '{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}],"dns":{}}'
    )


def test_render_escapes_strings_like_go() -> None:
    # checked against Go 1.26 encoding/json: \b and \f short forms, HTML escapes,
    # other control characters as \u00XX, DEL and non-ASCII as they are
    name = 'a\bb\fc\x01d\x7fe<>&\u2028"\\/\té'
    out = cniresult.render({"cniVersion": "1.0.0", "interfaces": [{"name": name}]})
    assert '"name": "a\\bb\\fc\\u0001d\x7fe\\u003c\\u003e\\u0026\\u2028\\"\\\\/\\té"' in out


def test_error_json() -> None:
    assert cniresult.error_json(7, 'bad <conf> & "x"') == (
        '{\n    "code": 7,\n    "msg": "bad \\u003cconf\\u003e \\u0026 \\"x\\""\n}'
    )
    assert cniresult.error_json(999, "m", "d") == (
        '{\n    "code": 999,\n    "msg": "m",\n    "details": "d"\n}'
    )
    assert cniresult.error_json(errors.CniCode.TRY_AGAIN_LATER, "busy", "", "1.1.0") == (
        '{\n    "cniVersion": "1.1.0",\n    "code": 11,\n    "msg": "busy"\n}'
    )


# What libcni v1.3.0 prints for upstream's emptyCNIResult(args, "1.0.0") with
# IfName eth0 and Netns /var/run/netns/x (tests/golden/results/_libcni: `go run . empty`).
LIBCNI_EMPTY_RESULT = """{
    "cniVersion": "1.0.0",
    "interfaces": [
        {
            "name": "eth0",
            "sandbox": "/var/run/netns/x"
        }
    ],
    "ips": [
        {
            "address": "0.0.0.0/0",
            "gateway": "0.0.0.0"
        }
    ]
}"""


def test_empty_pod_not_found_result() -> None:
    result = cniresult.empty_pod_not_found_result("eth0", "/var/run/netns/x", "1.0.0")
    assert cniresult.render(result) == LIBCNI_EMPTY_RESULT
    assert cniresult.empty_pod_not_found_result("eth0", "/var/run/netns/x", "") == result
    assert cniresult.empty_pod_not_found_result("net1", "/n", "1.1.0")["cniVersion"] == "1.1.0"


def test_empty_pod_not_found_result_older_versions() -> None:
    any_v4 = "0.0.0.0"  # noqa: S104 (an address in a result, not a bind)
    assert cniresult.empty_pod_not_found_result("eth0", "/n", "0.3.1") == {
        "cniVersion": "0.3.1",
        "interfaces": [{"name": "eth0", "sandbox": "/n"}],
        "ips": [{"version": "4", "address": "0.0.0.0/0", "gateway": any_v4}],
        "dns": {},
    }
    assert cniresult.empty_pod_not_found_result("eth0", "", "0.2.0") == {
        "cniVersion": "0.2.0",
        "ip4": {"ip": "0.0.0.0/0", "gateway": any_v4},
        "dns": {},
    }


def test_convert_does_not_modify_its_input() -> None:
    source = {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}], "extra": 1}
    snapshot = json.loads(json.dumps(source))
    out = cniresult.convert(source, "0.4.0")
    out["ips"][0]["address"] = "changed"
    assert source == snapshot


# --------------------------------------------------------------------------- property


def _v4_cidrs() -> st.SearchStrategy[str]:
    return st.builds(
        lambda n, p: f"{ipaddress.IPv4Address(n)}/{p}",
        st.integers(0, 2**32 - 1),
        st.integers(0, 32),
    )


def _v6_cidrs() -> st.SearchStrategy[str]:
    return st.builds(
        lambda n, p: f"{ipaddress.IPv6Address(n).exploded}/{p}",
        st.integers(0, 2**128 - 1),
        st.integers(0, 128),
    )


_ips = st.one_of(
    st.builds(lambda n: str(ipaddress.IPv4Address(n)), st.integers(0, 2**32 - 1)),
    st.builds(lambda n: str(ipaddress.IPv6Address(n)), st.integers(0, 2**128 - 1)),
)
_text = st.text(max_size=12)


@st.composite
def results_100(draw: st.DrawFn) -> dict[str, Any]:
    interfaces = draw(
        st.lists(
            st.fixed_dictionaries({"name": _text}, optional={"mac": _text, "sandbox": _text}),
            max_size=3,
        )
    )
    ips = draw(
        st.lists(
            st.fixed_dictionaries(
                {"address": st.one_of(_v4_cidrs(), _v6_cidrs())},
                optional={"interface": st.integers(-1, 5), "gateway": _ips},
            ),
            max_size=4,
        )
    )
    routes = draw(
        st.lists(
            st.fixed_dictionaries(
                {"dst": st.one_of(_v4_cidrs(), _v6_cidrs())},
                optional={
                    "gw": _ips,
                    "mtu": st.integers(0, 9000),
                    "advmss": st.integers(0, 9000),
                    "priority": st.integers(0, 2**31),
                    "table": st.integers(0, 2**31),
                    "scope": st.integers(0, 255),
                },
            ),
            max_size=4,
        )
    )
    dns = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "nameservers": st.lists(_text, max_size=2),
                "domain": _text,
                "search": st.lists(_text, max_size=2),
                "options": st.lists(_text, max_size=2),
            },
        )
    )
    return {
        "cniVersion": "1.0.0",
        "interfaces": interfaces,
        "ips": ips,
        "routes": routes,
        "dns": dns,
    }


@settings(max_examples=100, deadline=None)
@given(results_100())
def test_1_0_0_through_0_4_0_and_back_is_stable(result: dict[str, Any]) -> None:
    direct = cniresult.convert(result, "1.0.0")
    down = cniresult.convert(result, "0.4.0")
    assert all(ip["version"] in ("4", "6") for ip in down.get("ips", []))
    assert cniresult.convert(down, "1.0.0") == direct
    # and printing is a fixed point
    text = cniresult.render(direct)
    assert cniresult.render(json.loads(text)) == text
