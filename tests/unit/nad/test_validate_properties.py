"""Property tests: random mutations of valid NADs never crash the validator, and every
answer is a well-formed pass or a list of well-formed findings."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multusctl.nad.findings import CHECKS, Finding, IpRange, NadReport
from multusctl.nad.validate import cross_check, validate_config, validate_nad

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "validate_nad"
BASES = [
    "seed-quickstart-macvlan-conf",
    "seed-how-to-use-macvlan-conf-1",
    "seed-how-to-use-macvlan-conf-2",
    "conflist-valid",
    "host-local-dual-stack",
    "static-valid",
    "whereabouts-valid",
    "resource-name-valid",
    "ipvlan-valid",
]


def _load_bases() -> list[dict[str, Any]]:
    return [
        doc
        for name in BASES
        for doc in yaml.safe_load_all((GOLDEN / f"{name}.yaml").read_text())
        if doc is not None
    ]


VALID = _load_bases()

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
    | st.sampled_from(["", "10.1.0.0/24", "10.1.0.300", "fd00::1", "::/0", "eth0", "a/b",
                       "1.0.0", "host-local", "static", "whereabouts", "dhcp", "macvlan",
                       "vlan", "bridge", "ipvlan", "sriov", "l2", "bridge", "10.1.0.5/33"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "subnet", "ranges", "rangeStart", "rangeEnd",
                                       "gateway", "routes", "dst", "gw", "addresses",
                                       "address", "range", "exclude", "plugins", "ipam",
                                       "master", "mode", "mtu", "vlanId", "capabilities",
                                       "cniVersion", "name", "x"]), inner, max_size=4),
    max_leaves=12,
)


def _containers(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict | list):
                out.extend(_containers(v, (*path, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, dict | list):
                out.extend(_containers(v, (*path, i)))
    return out


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _mutate(data: st.DataObject, obj: Any) -> None:
    """One structural mutation somewhere inside ``obj`` (delete, replace or add a key)."""
    target = _get(obj, data.draw(st.sampled_from(_containers(obj))))
    if isinstance(target, dict):
        action = data.draw(st.sampled_from(["delete", "replace", "add"]))
        if target and action != "add":
            key = data.draw(st.sampled_from(sorted(target, key=str)))
            if action == "delete":
                del target[key]
            else:
                target[key] = data.draw(json_values)
        else:
            target[data.draw(st.text(max_size=8))] = data.draw(json_values)
    elif isinstance(target, list):
        if target and data.draw(st.booleans()):
            target[data.draw(st.integers(0, len(target) - 1))] = data.draw(json_values)
        else:
            target.append(data.draw(json_values))


def _check_report(report: NadReport, label: str) -> None:
    assert isinstance(report, NadReport)
    assert report.source == label
    for f in report.findings:
        _check_finding(f, label)
    assert report.valid == (not any(f.severity == "error" for f in report.findings))


def _check_finding(f: Finding, label: str) -> None:
    assert isinstance(f, Finding)
    assert f.severity in ("error", "warning")
    assert f.check in CHECKS
    assert f.object == label
    assert f.message
    assert "\n" not in f.message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_nads_never_crash(data: st.DataObject) -> None:
    nad = copy.deepcopy(data.draw(st.sampled_from(VALID)))
    config_text = (nad.get("spec") or {}).get("config")
    config = json.loads(config_text) if config_text else None
    for _ in range(data.draw(st.integers(1, 4))):
        if config is not None and data.draw(st.booleans()):
            _mutate(data, config)
        else:
            _mutate(data, nad)
    if config is not None and isinstance(nad.get("spec"), dict) and "config" in nad["spec"]:
        text = json.dumps(config)
        if data.draw(st.integers(0, 9)) == 0:  # sometimes break the JSON text itself
            cut = data.draw(st.integers(0, len(text)))
            text = text[:cut] + data.draw(st.sampled_from(["", ",", "}", '"', "[", "\\"]))
        nad["spec"]["config"] = text
    report = validate_nad(nad, "mut.yaml:1", bin_dirs=["/nonexistent"], strict=True)
    _check_report(report, "mut.yaml:1")
    spec = nad.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("config"), str):
        for f in validate_config(spec["config"], source="ns/x", nad_name="x"):
            _check_finding(f, "ns/x")
    for f in cross_check([report, validate_nad(VALID[0], "base:1")]):
        assert f.check == "ipam-overlap"


@settings(deadline=None)  # a loaded CI machine must not turn timing into failures
@given(st.one_of(json_values, st.binary(max_size=30).map(lambda b: b.decode("latin-1"))))
def test_any_object_or_text_gives_a_report(value: Any) -> None:
    _check_report(validate_nad(value, "any:1"), "any:1")
    text = value if isinstance(value, str) else json.dumps(value)
    for f in validate_config(text):
        _check_finding(f, "")


def test_valid_bases_have_no_errors() -> None:
    for i, nad in enumerate(VALID):
        report = validate_nad(nad, f"base:{i}")
        assert report.valid, report.findings


ranges_strategy = st.lists(
    st.tuples(st.sampled_from("abcd"), st.integers(0, 60), st.integers(0, 20),
              st.sampled_from([4, 6])),
    max_size=25,
)


@settings(deadline=None)
@given(ranges_strategy)
def test_cross_check_matches_brute_force(items: list[tuple[str, int, int, int]]) -> None:
    reports: dict[str, list[IpRange]] = {}
    for i, (obj, first, width, version) in enumerate(items):
        r = IpRange(obj, f"p{i}", version, first, first + width)
        reports.setdefault(obj, []).append(r)
    nads = [NadReport(obj, None, obj, (), tuple(rs)) for obj, rs in reports.items()]
    found = cross_check(nads)
    all_ranges = [r for rs in reports.values() for r in rs]

    def overlaps(a: IpRange, b: IpRange) -> bool:
        return (a.object != b.object and a.version == b.version
                and a.first <= b.last and b.first <= a.last)

    flagged = {(f.object, f.path) for f in found}
    # sound: every warning names a range that really overlaps another object's range
    for f in found:
        r = next(x for x in all_ranges if (x.object, x.path) == (f.object, f.path))
        assert any(overlaps(r, o) for o in all_ranges)
    # complete: of every overlapping pair, at least one side is flagged
    for a in all_ranges:
        for b in all_ranges:
            if overlaps(a, b):
                assert (a.object, a.path) in flagged or (b.object, b.path) in flagged
    # at most one warning per range
    assert len(flagged) == len(found)
