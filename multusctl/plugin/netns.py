"""Tiny network-namespace helpers for the hot path (stdlib + ctypes, no pyroute2)."""

from __future__ import annotations

import os
import socket
import threading

from multusctl.errors import MultusError

_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def link_exists(netns_path: str, ifname: str) -> bool:
    """Whether ``ifname`` exists inside the network namespace at ``netns_path``.

    Runs in a short-lived thread that enters the namespace, so the calling thread (and
    the process) never changes namespace.
    """
    try:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise MultusError(f"validateIfName: no net namespace {netns_path} found: {exc}") from None
    outcome: dict[str, object] = {}

    def probe() -> None:
        try:
            _setns(fd)
            try:
                socket.if_nametoindex(ifname)
            except OSError:
                outcome["exists"] = False
            else:
                outcome["exists"] = True
        except OSError as exc:
            outcome["error"] = exc

    try:
        worker = threading.Thread(target=probe, name="netns-probe")
        worker.start()
        worker.join()
    finally:
        os.close(fd)
    if "error" in outcome:
        raise MultusError(
            f"validateIfName: no net namespace {netns_path} found: {outcome['error']}"
        )
    return outcome.get("exists") is True


def run_in_netns(netns_path: str, argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` inside the network namespace at ``netns_path``; (exit status, output).

    The child is forked from a thread that entered the namespace, so it starts there;
    the calling thread never changes namespace.
    """
    import subprocess

    try:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise MultusError(f"no net namespace {netns_path} found: {exc}") from None
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            _setns(fd)
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            outcome["status"] = proc.returncode
            outcome["output"] = (proc.stdout + proc.stderr).strip()
        except OSError as exc:
            outcome["error"] = exc

    try:
        worker = threading.Thread(target=work, name="netns-exec")
        worker.start()
        worker.join()
    finally:
        os.close(fd)
    if "error" in outcome:
        raise MultusError(f"cannot run {argv[0]} in {netns_path}: {outcome['error']}")
    status = outcome.get("status")
    return (status if isinstance(status, int) else 1), str(outcome.get("output", ""))
