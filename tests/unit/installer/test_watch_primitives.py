"""Waker, watch_loop and the signal handlers, without sleeping."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from multusctl.errors import InvalidConfig
from multusctl.installer import entrypoint as ep
from multusctl.installer.watch import Waker, watch_loop


def test_waker_times_out_without_events() -> None:
    assert Waker(debounce=0).wait(0.0) is False


def test_waker_coalesces_a_burst() -> None:
    slept: list[float] = []
    waker = Waker(debounce=0.01, sleep=slept.append)
    for i in range(5):
        waker.wake(str(i))
    assert waker.wait(1.0) is True
    assert slept == [0.01]
    assert waker.wait(0.0) is False  # the burst was drained by one wait


class ScriptedWaiter:
    def __init__(self, stop: threading.Event, rounds: int) -> None:
        self.stop, self.rounds, self.timeouts = stop, rounds, []

    def wait(self, timeout: float) -> bool:
        self.timeouts.append(timeout)
        if len(self.timeouts) > self.rounds:
            self.stop.set()
        return True

    def wake(self, reason: str = "") -> None:
        return None


def test_watch_loop_reconciles_and_survives_errors() -> None:
    stop = threading.Event()
    waiter = ScriptedWaiter(stop, rounds=3)
    calls: list[int] = []
    errors: list[Exception] = []

    def reconcile() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise InvalidConfig("broken master")

    watch_loop(reconcile, waiter=waiter, stop=stop, resync_interval=7.0, on_error=errors.append)
    assert len(calls) == 3
    assert [str(e) for e in errors] == ["broken master"]
    assert set(waiter.timeouts) == {7.0}


def test_watch_loop_lets_bugs_through() -> None:
    stop = threading.Event()

    def reconcile() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        watch_loop(
            reconcile,
            waiter=ScriptedWaiter(stop, 5),
            stop=stop,
            resync_interval=1.0,
            on_error=lambda e: None,
        )


def test_first_signal_stops_second_exits_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(ep.os, "_exit", exits.append)
    stop = threading.Event()
    waker = Waker(debounce=0)
    restore = ep.install_signal_handlers(stop, waker)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set()
        assert waker.wait(0.0) is True  # the loop was woken
        assert exits == []
        os.kill(os.getpid(), signal.SIGINT)
        assert exits == [130]
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
