"""``cni.invoke``'s timing hook (``Executor.observer``), with real plugin executables.

The hook feeds the thick daemon's ``multus_delegate_duration_seconds``. It is told about
every plugin *run*: once per plugin of a conflist, in execution order, with the outcome;
a type that is not installed is never reported (it never ran, and its name comes from
user config). Delegates are ``tests/fakes/plugins/fakecni`` (and copies of it under other
type names) and small shell scripts; no namespace is needed, the plugins do not enter one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from multusctl.cni import invoke
from multusctl.errors import CniCode, DelegateError, MultusError

pytestmark = pytest.mark.integration

FAKECNI = Path(__file__).resolve().parents[1] / "fakes" / "plugins" / "fakecni"

Seen = list[tuple[str, str, float, bool]]


def _bin(tmp: Path) -> Path:
    """fakecni as the types ``fakecni``, ``first`` and ``second``, plus two shell plugins."""
    bindir = tmp / "bin"
    bindir.mkdir()
    for name in ("fakecni", "first", "second"):
        shutil.copy2(FAKECNI, bindir / name)
    (bindir / "sleepy").write_text("#!/bin/sh\nexec sleep 5\n")
    (bindir / "sleepy").chmod(0o755)
    return bindir


def _executor(tmp: Path, seen: Seen | None, *, timeout: float = 30.0) -> invoke.Executor:
    def observe(plugin_type: str, command: str, seconds: float, ok: bool) -> None:
        assert seen is not None
        seen.append((plugin_type, command, seconds, ok))

    return invoke.Executor(
        bin_dirs=(str(_bin(tmp)),), base_env={"PATH": "/usr/bin:/bin"},
        cache_dir=str(tmp / "cache"), timeout=timeout,
        observer=observe if seen is not None else None,
    )


def _network(doc: dict[str, Any]) -> invoke.NetworkList:
    return invoke.load_network(json.dumps(doc).encode())


RT = invoke.RuntimeConf(container_id="ctr-obs", netns="/var/run/netns/none", ifname="net1")


def test_one_conf_is_one_observation(tmp_path: Path) -> None:
    seen: Seen = []
    ex = _executor(tmp_path, seen)
    net = _network({"cniVersion": "0.4.0", "name": "n", "type": "fakecni"})
    result = invoke.add(ex, net, RT)
    assert result["ips"][0]["address"] == "10.9.0.5/24"
    invoke.check(ex, net, RT)
    invoke.delete(ex, net, RT)
    assert [(t, c, ok) for t, c, _, ok in seen] == [
        ("fakecni", "ADD", True), ("fakecni", "CHECK", True), ("fakecni", "DEL", True),
    ]
    # a real process ran each time: the duration is positive and plausible
    assert all(0 < s < 30 for _, _, s, _ in seen)


def test_conflist_reports_each_plugin_in_execution_order(tmp_path: Path) -> None:
    seen: Seen = []
    ex = _executor(tmp_path, seen)
    net = _network({"cniVersion": "1.0.0", "name": "chain",
                    "plugins": [{"type": "first"}, {"type": "second"}]})
    invoke.add(ex, net, RT)
    invoke.delete(ex, net, RT)
    assert [(t, c, ok) for t, c, _, ok in seen] == [
        ("first", "ADD", True), ("second", "ADD", True),
        ("second", "DEL", True), ("first", "DEL", True),  # DEL runs the chain backwards
    ]


def test_a_failing_plugin_is_reported_and_its_error_kept(tmp_path: Path) -> None:
    seen: Seen = []
    ex = _executor(tmp_path, seen)
    net = _network({"cniVersion": "1.0.0", "name": "chain", "plugins": [
        {"type": "first"},
        {"type": "second", "fail": {"ADD": {"code": 7, "msg": "no address"}}},
    ]})
    with pytest.raises(DelegateError, match="no address") as info:
        invoke.add(ex, net, RT)
    assert info.value.cni_code == 7
    assert [(t, c, ok) for t, c, _, ok in seen] == [("first", "ADD", True),
                                                     ("second", "ADD", False)]


def test_a_timeout_is_a_failed_run(tmp_path: Path) -> None:
    seen: Seen = []
    ex = _executor(tmp_path, seen, timeout=0.3)
    with pytest.raises(DelegateError, match="timed out") as info:
        invoke.exec_plugin(ex, "sleepy", "ADD", {"cniVersion": "1.0.0", "name": "n"}, RT)
    assert info.value.cni_code == CniCode.TRY_AGAIN_LATER
    [(plugin_type, command, seconds, ok)] = seen
    assert (plugin_type, command, ok) == ("sleepy", "ADD", False)
    assert 0.3 <= seconds < 5


def test_a_type_that_is_not_installed_is_not_reported(tmp_path: Path) -> None:
    seen: Seen = []
    ex = _executor(tmp_path, seen)
    net = _network({"cniVersion": "1.0.0", "name": "n", "type": "no-such-plugin"})
    with pytest.raises(MultusError, match='failed to find plugin "no-such-plugin"'):
        invoke.add(ex, net, RT)
    assert seen == []


def test_without_an_observer_nothing_changes(tmp_path: Path) -> None:
    ex = _executor(tmp_path, None)
    assert ex.observer is None
    net = _network({"cniVersion": "1.0.0", "name": "n", "type": "fakecni"})
    assert invoke.add(ex, net, RT)["ips"][0]["address"] == "10.9.0.5/24"
