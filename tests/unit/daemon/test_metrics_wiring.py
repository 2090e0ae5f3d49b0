"""The daemon's delegate latency histogram and how its hook reaches ``cni.invoke`` (pure).

The request path is followed up to the executor the plugin core builds: the daemon's
``chrootDir`` and its metrics observer both end up on ``invoke.Executor``. Running real
plugins through it is covered by tests/integration/test_invoke_observer.py and
test_shim_daemon.py (metrics), tests/privileged/test_chroot_exec.py and
test_shim_daemon.py (chroot).
"""

from __future__ import annotations

import json

import pytest

from multusctl.daemon import config as daemon_config
from multusctl.daemon import wire
from multusctl.daemon.metrics import LATENCY_BUCKETS, Metrics
from multusctl.daemon.service import CniService
from multusctl.logs import Logger
from multusctl.plugin import commands

NAME = "multus_delegate_duration_seconds"


def _sample(m: Metrics, suffix: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(NAME + suffix, labels)


def test_observe_delegate_labels_type_command_and_outcome() -> None:
    m = Metrics()
    m.observe_delegate("bridge", "ADD", 0.02, True)
    m.observe_delegate("bridge", "ADD", 0.2, True)
    m.observe_delegate("macvlan", "DEL", 3.0, False)
    ok = {"type": "bridge", "command": "ADD", "outcome": "ok"}
    assert _sample(m, "_count", **ok) == 2.0
    assert _sample(m, "_sum", **ok) == pytest.approx(0.22)
    assert _sample(m, "_bucket", **ok, le="0.025") == 1.0
    assert _sample(m, "_count", type="macvlan", command="DEL", outcome="error") == 1.0
    assert _sample(m, "_count", type="macvlan", command="DEL", outcome="ok") is None
    # the same buckets as the per-command histogram
    assert _sample(m, "_bucket", **ok, le=str(LATENCY_BUCKETS[-1])) == 2.0


def _service(metrics: Metrics | None, **conf: object) -> CniService:
    return CniService(daemon_config.load(json.dumps(conf).encode()),
                      Logger(log_to_stderr=False), metrics=metrics)


def _core_request(service: CniService) -> commands.Request:
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/proc/1/ns/net",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin",
           "CNI_ARGS": "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=u"}
    config = json.dumps({"cniVersion": "1.0.0", "name": "multus-cni-network",
                         "type": "multus-shim", "delegates": [
                             {"cniVersion": "1.0.0", "name": "n", "type": "bridge"}]}).encode()
    request = wire.WireRequest(env=env, config=config)
    return service._request(wire.extract(env), request)  # private: the wiring under test


def test_the_daemon_hands_its_observer_and_chroot_to_the_executor() -> None:
    m = Metrics()
    service = _service(m, chrootDir="/hostroot")
    executor = commands._executor(_core_request(service))
    assert executor.chroot_dir == "/hostroot"
    assert executor.observer is not None
    executor.observer("bridge", "ADD", 0.5, True)
    assert _sample(m, "_count", type="bridge", command="ADD", outcome="ok") == 1.0


def test_without_metrics_or_chroot_the_executor_has_neither() -> None:
    executor = commands._executor(_core_request(_service(None)))
    assert executor.observer is None
    assert executor.chroot_dir == ""
