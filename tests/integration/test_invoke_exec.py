"""``cni.invoke.run_process``: how every delegate binary is run (real processes, no netns).

It stands in for ``subprocess.run(input=..., capture_output=True, timeout=...)``; these
tests pin that contract: stdin fed whole (also past a pipe buffer, also to a child that
does not read it), stdout and stderr kept apart, the exit status, spawn errors from
``Popen``, and a timeout that covers the whole run, kills the child and reaps it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from multusctl.cni import invoke

pytestmark = pytest.mark.integration

ENV = {"PATH": "/usr/bin:/bin"}


def test_large_payload_round_trips_through_cat() -> None:
    payload = os.urandom(1 << 20)  # 16 pipe buffers: stdin and stdout must interleave
    proc = invoke.run_process(["cat"], payload, ENV, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, payload, b"")


def test_stdout_stderr_and_status_are_kept_apart() -> None:
    script = 'read line; echo "out:$line"; echo "err:$CNI_COMMAND" >&2; exit 3'
    proc = invoke.run_process(
        ["sh", "-c", script], b"hello\n", {**ENV, "CNI_COMMAND": "ADD"}, timeout=30
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, b"out:hello\n", b"err:ADD\n")


def test_a_child_that_never_reads_stdin_is_not_an_error() -> None:
    proc = invoke.run_process(["true"], b"x" * (1 << 20), ENV, timeout=30)
    assert proc.returncode == 0
    assert proc.stdout == b""


def test_no_timeout_and_empty_payload() -> None:
    proc = invoke.run_process(["sh", "-c", "cat; echo done"], b"", ENV, timeout=None)
    assert (proc.returncode, proc.stdout) == (0, b"done\n")


def test_spawn_errors_come_from_popen(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        invoke.run_process([str(tmp_path / "missing")], b"{}", ENV, timeout=5)


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer exists (it was killed *and* reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_timeout_kills_and_reaps_the_child(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        invoke.run_process(
            ["sh", "-c", f'echo $$ > {pidfile}; exec sleep 30'], b"{}", ENV, timeout=0.5
        )
    assert time.monotonic() - started < 5
    assert _gone(int(pidfile.read_text()))


def test_timeout_also_covers_output_held_open_after_exit(tmp_path: Path) -> None:
    """As with ``subprocess.run``: the run ends at EOF on the pipes, so a background child
    that keeps stdout open makes the call time out even though the plugin itself exited."""
    pidfile = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        invoke.run_process(
            ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; echo started"], b"", ENV,
            timeout=0.5,
        )
    os.kill(int(pidfile.read_text()), 9)


def test_the_exit_is_waited_for_without_sleep_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """``subprocess`` reaps a child under a timeout by ``time.sleep``-ing between
    ``waitpid`` calls (0.5, 1, 2 ... ms); a Go plugin's pipes often reach EOF just before
    it has exited, so about every other delegate run lost a millisecond. Here the exit is
    seen through a pidfd in the same ``poll`` as the pipes: nothing sleeps, even for a
    child that closes its output well before it exits."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    script = "cat >/dev/null; echo '{}'; exec >&- 2>&-; sleep 0.05; exit 7"
    began = time.monotonic()
    proc = invoke.run_process(["sh", "-c", script], b"{}", ENV, timeout=30)
    assert (proc.returncode, proc.stdout) == (7, b"{}\n")
    assert time.monotonic() - began >= 0.05
    assert slept == []
