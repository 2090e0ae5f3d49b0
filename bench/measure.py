"""Measuring primitives of the side-by-side bench: timed execs, CPU of long-lived
processes, statistics and audit-log attribution.

Every CNI call is one process tree started here. Its CPU time comes from ``wait4`` on that
exact child, so it counts the plugin and every delegate it waited for (bridge, macvlan,
host-local, …) and nothing else, even when eight calls run in parallel.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Exec:
    """One finished process tree."""

    rc: int
    stdout: str
    stderr: str
    #: Wall seconds from spawn to reap (monotonic clock).
    wall: float
    #: User + system CPU seconds of the child and the descendants it waited for.
    cpu: float
    #: Epoch seconds of spawn and reap, to attribute audit events to this call.
    began: float
    ended: float

    def failure(self) -> str:
        out, err = self.stdout.strip()[:600], self.stderr.strip()[-600:]
        return f"rc={self.rc} stdout={out!r} stderr={err!r}"


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    stdin: bytes = b"",
    netns: str | None = None,
    timeout: float = 120.0,
) -> Exec:
    """Run ``argv`` (inside ``netns`` via ``ip netns exec``), feed ``stdin``, reap with
    ``wait4`` to get the tree's rusage. A call that outlives ``timeout`` is killed."""
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    began = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        full,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
    )
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else b""))
    reader.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        out = proc.stdout.read()
        proc.stdout.close()
        reader.join()
        if proc.stderr:
            proc.stderr.close()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Exec(
        rc=proc.returncode,
        stdout=out.decode(errors="replace"),
        stderr=b"".join(err).decode(errors="replace"),
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        began=began,
        ended=time.time(),
    )


# --------------------------------------------------------------------------- /proc


def proc_cpu(pid: int, *, with_children: bool = True) -> float:
    """CPU seconds of ``pid`` (utime+stime, plus its reaped children's when asked)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime is field 14 → index 11.
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def proc_rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes."""
    with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * PAGE


def proc_peak_rss(pid: int) -> int:
    """Peak resident set size (``VmHWM``) of ``pid`` in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """median / p90 / min / max / n of ``values`` (empty → n=0 only)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "min": min(values),
        "max": max(values),
    }


# --------------------------------------------------------------------------- audit log

#: One event per request at ResponseComplete, metadata only.
AUDIT_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [{"level": "Metadata"}],
}


def audit_args(workdir: Path) -> list[str]:
    """kube-apiserver flags for an audit log at ``workdir/audit.log`` (policy written)."""
    policy = workdir / "bench-audit-policy.json"
    policy.write_text(json.dumps(AUDIT_POLICY))
    return [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={workdir / 'audit.log'}",
        "--audit-log-mode=blocking",
        "--audit-log-maxsize=0",
    ]


def _stamp(text: str) -> float:
    # RFC3339 with microseconds, "Z": 2026-01-01T10:00:00.123456Z
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class AuditEvent:
    received: float
    user: str
    verb: str
    resource: str
    code: int | None

    @property
    def is_event_post(self) -> bool:
        return self.resource == "events"


def read_audit(path: Path, users: Iterable[str]) -> list[AuditEvent]:
    """Events of the given users, in log order."""
    wanted = set(users)
    events: list[AuditEvent] = []
    if not path.exists():
        return events
    with path.open("rb") as fh:
        for line in fh:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            user = str((ev.get("user") or {}).get("username", ""))
            if user not in wanted:
                continue
            ref = ev.get("objectRef") or {}
            res = str(ref.get("resource", ev.get("requestURI", "?")))
            if ref.get("subresource"):
                res += "/" + str(ref["subresource"])
            stamp = ev.get("requestReceivedTimestamp") or ev.get("stageTimestamp")
            events.append(
                AuditEvent(
                    received=_stamp(str(stamp)),
                    user=user,
                    verb=str(ev.get("verb")),
                    resource=res,
                    code=(ev.get("responseStatus") or {}).get("code"),
                )
            )
    return events


def events_between(events: Sequence[AuditEvent], began: float, ended: float) -> list[AuditEvent]:
    """Events whose request arrived within [began, ended] (a serial call's window)."""
    return [e for e in events if began <= e.received <= ended]


def describe(events: Iterable[AuditEvent]) -> list[str]:
    return [f"{e.verb} {e.resource} {e.code}" for e in events]
