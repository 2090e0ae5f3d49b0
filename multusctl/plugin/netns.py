"""Tiny network-namespace helpers for the hot path (stdlib + ctypes, no pyroute2).

Each helper enters the namespace on a short-lived thread (network namespaces are
per-thread in Linux), so the calling thread, and the process, never change namespace.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from multusctl.errors import MultusError

_CLONE_NEWNET = 0x40000000


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _setns(libc: Any, fd: int) -> None:
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _in_netns(netns_path: str, work: Callable[[Any], object], what: str) -> object:
    """Run ``work(libc)`` on a thread inside the namespace; return its value."""
    try:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise MultusError(f"{what}: no net namespace {netns_path} found: {exc}") from None
    libc = _libc()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            _setns(libc, fd)
            outcome["value"] = work(libc)
        except OSError as exc:
            outcome["error"] = exc

    try:
        worker = threading.Thread(target=run, name="netns")
        worker.start()
        worker.join()
    finally:
        os.close(fd)
    if "error" in outcome:
        raise MultusError(f"{what}: no net namespace {netns_path} found: {outcome['error']}")
    return outcome.get("value")


def existing_links(netns_path: str, names: Iterable[str]) -> set[str]:
    """Which of ``names`` already exist as links in the namespace at ``netns_path``."""
    wanted = list(names)

    def probe(libc: Any) -> set[str]:
        return {n for n in wanted if libc.if_nametoindex(n.encode()) != 0}

    found = _in_netns(netns_path, probe, "validateIfName")
    return found if isinstance(found, set) else set()


def link_exists(netns_path: str, ifname: str) -> bool:
    """Whether ``ifname`` exists inside the network namespace at ``netns_path``."""
    return ifname in existing_links(netns_path, [ifname])


def run_in_netns(netns_path: str, argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` inside the network namespace at ``netns_path``; (exit status, output).

    The child is forked from the thread that entered the namespace, so it starts there.
    """
    import subprocess

    def work(_libc: Any) -> tuple[int, str]:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, (proc.stdout + proc.stderr).strip()

    value = _in_netns(netns_path, work, f"cannot run {argv[0]}")
    if isinstance(value, tuple):
        return value
    return 1, ""
