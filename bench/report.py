"""Markdown rendering of a bench/run.py result: one table, ours / upstream per row."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:table:begin -->"
END = "<!-- bench:table:end -->"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f}" if v >= 0.0995 else f"{v * 1000:.1f}"


def _num(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _ratio(ours: float | None, up: float | None) -> str:
    if ours is None or up is None or up == 0:
        return "-"
    return f"{ours / up:.2f}x"


class Table:
    def __init__(self, result: Mapping[str, Any], pairs: Sequence[tuple[str, str, str]]):
        self.result = result
        self.impls: list[str] = list(result.get("implementations", {}))
        self.labels: Mapping[str, str] = result.get("implementations", {})
        self.pairs = [(o, u, lab) for o, u, lab in pairs if o in self.impls and u in self.impls]
        self.lines: list[str] = []
        head = ["metric", *(self.labels[k] for k in self.impls)]
        head += [f"ours/upstream {lab}" for _, _, lab in self.pairs]
        self.lines.append("| " + " | ".join(head) + " |")
        self.lines.append("|" + "---|" * len(head))

    def section(self, title: str) -> None:
        cells = [f"**{title}**", *([""] * (len(self.impls) + len(self.pairs)))]
        self.lines.append("| " + " | ".join(cells) + " |")

    def row(
        self,
        metric: str,
        values: Mapping[str, float | None],
        fmt: Any,
        *,
        text: Mapping[str, str] | None = None,
    ) -> None:
        cells = [metric]
        for k in self.impls:
            if text and k in text:
                cells.append(text[k])
            else:
                cells.append(fmt(values.get(k)))
        for o, u, _ in self.pairs:
            cells.append(_ratio(values.get(o), values.get(u)))
        self.lines.append("| " + " | ".join(cells) + " |")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _get(d: Mapping[str, Any], *path: str) -> Any:
    cur: Any = d
    for p in path:
        if not isinstance(cur, Mapping) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def render(result: Mapping[str, Any], pairs: Sequence[tuple[str, str, str]]) -> str:
    t = Table(result, pairs)
    _serial_rows(t, result)
    _burst_rows(t, result)
    _startup_rows(t, result)
    out = t.text()
    notes = _targets(result) + _notes(t, result)
    if notes:
        out += "\n" + "\n".join(notes) + "\n"
    return out


def _serial_rows(t: Table, result: Mapping[str, Any]) -> None:
    serial = result.get("serial", {})
    sizes = [int(s) for s in str(result.get("args", {}).get("sizes", "0,1,3,10")).split(",")]
    rounds = result.get("args", {}).get("rounds")
    t.section(f"per pod, serial ({rounds} rounds, interleaved): median / p90, ms")
    for op in ("ADD", "DEL"):
        for what in ("wall", "cpu"):
            for n in sizes:
                med = {k: _get(serial, k, f"{op} {n}", what, "median") for k in t.impls}
                p90 = {k: _get(serial, k, f"{op} {n}", what, "p90") for k in t.impls}
                txt = {k: f"{_ms(med[k])} / {_ms(p90[k])}" for k in t.impls}
                label = "wall" if what == "wall" else "CPU (plugin + delegates + daemon)"
                t.row(f"{op} {label}, {n} NADs", med, _ms, text=txt)
    t.section("overhead over raw delegates (median wall, ms)")
    for op in ("ADD", "DEL"):
        for n in sizes:
            raw = _get(serial, "raw", f"{op} {n}", "wall", "median")
            vals: dict[str, float | None] = {}
            for k in t.impls:
                m = _get(serial, k, f"{op} {n}", "wall", "median")
                vals[k] = None if (m is None or raw is None or k == "raw") else m - raw
            t.row(f"{op} overhead, {n} NADs", vals, _ms)
    counts = _get(result, "requests", "counts") or {}
    t.section("API requests per call (audit log, multus ServiceAccount; + event POSTs)")
    for op in ("ADD", "DEL"):
        for n in sizes:
            vals = {k: _median(_get(counts, k, f"{op} {n}") or []) for k in t.impls}
            ev = {k: _median(_get(counts, k, f"{op} {n} events") or []) for k in t.impls}
            txt = {
                k: ("-" if vals[k] is None else f"{vals[k]:g} + {ev[k]:g}")
                for k in t.impls
                if k != "raw"
            }
            txt["raw"] = "-"
            t.row(f"{op} requests, {n} NADs", vals, _num, text=txt)
    t.section("kube-apiserver CPU per call (mean, ms)")
    for op in ("ADD", "DEL"):
        for n in sizes:
            vals = {k: _get(serial, k, f"{op} {n}", "apiserver_cpu_mean") for k in t.impls}
            vals["raw"] = None
            t.row(f"apiserver CPU per {op}, {n} NADs", vals, _ms)


def _burst_rows(t: Table, result: Mapping[str, Any]) -> None:
    burst = result.get("burst") or {}
    if burst:
        any_b = next(iter(burst.values()))
        t.section(
            f"burst: {any_b['pods']} pods x {any_b['nads']} NAD, {any_b['parallel']} in parallel"
        )
        for op in ("ADD", "DEL"):
            t.row(f"{op} pods/s", {k: _get(burst, k, op, "pods_per_s") for k in t.impls}, _num)
            t.row(f"{op} CPU s (all processes but the API server)",
                  {k: _get(burst, k, op, "cpu") for k in t.impls},
                  lambda v: _num(v, 2))
            t.row(f"{op} kube-apiserver CPU s",
                  {k: _get(burst, k, op, "apiserver_cpu") for k in t.impls},
                  lambda v: _num(v, 2))
        if any(_get(burst, k, "daemon_rss_idle") for k in t.impls):
            mib = 1024 * 1024

            def _mib(v: float | None) -> str:
                return "-" if v is None else f"{v / mib:.1f}"

            t.row("daemon RSS idle, MiB", {k: _get(burst, k, "daemon_rss_idle") for k in t.impls},
                  _mib)
            t.row("daemon RSS after ADD burst, MiB",
                  {k: _get(burst, k, "daemon_rss_after") for k in t.impls}, _mib)
            t.row("daemon RSS peak (ADD), MiB",
                  {k: _get(burst, k, "ADD", "daemon_rss_peak") for k in t.impls}, _mib)


def _startup_rows(t: Table, result: Mapping[str, Any]) -> None:
    start = result.get("startup") or {}
    if start:
        t.section("start-up: `CNI_COMMAND=VERSION`, median / p90, ms")
        med = {k: _get(start, k, "wall", "median") for k in t.impls}
        txt = {
            k: f"{_ms(med[k])} / {_ms(_get(start, k, 'wall', 'p90'))}"
            for k in t.impls
            if med[k] is not None
        }
        t.row("VERSION wall", med, _ms, text=txt)
        t.row("VERSION CPU (median)", {k: _get(start, k, "cpu", "median") for k in t.impls}, _ms)


def _notes(t: Table, result: Mapping[str, Any]) -> list[str]:
    extras = result.get("extras") or {}
    notes: list[str] = ["", "Ours only:"]
    w = extras.get("watch") or {}
    if "median_ms" in w:
        notes.append(
            f"* watch loop (ours; master change → new config on disk): median "
            f"{w['median_ms']:.1f} ms, p90 {w['p90_ms']:.1f} ms. Upstream's thin entrypoint "
            "polls once a second (not measured here)."
        )
    v = extras.get("validate_nad") or {}
    if "wall_s" in v:
        notes.append(
            f"* validate-nad (ours only, no upstream counterpart): {v['count']:.0f} NADs in "
            f"{v['wall_s']:.2f} s wall, {v['cpu_s']:.2f} s CPU "
            f"({v['nads_per_s']:.0f} NADs/s)."
        )
    if len(notes) == 2:
        notes = []
    findings = result.get("findings") or {}
    if findings:
        notes.append("")
        notes.append("Correctness checks (network-status = pod netns; nothing left after DEL; "
                     "double DEL succeeds):")
        for k in t.impls:
            f = findings.get(k) or []
            label = t.labels[k]
            if not f:
                notes.append(f"* {label}: all checks passed")
            else:
                notes.append(f"* {label}: {len(f)} finding(s)")
                notes += [f"  * `{_clip(x)}`" for x in f[:6]]
    return notes


def _targets(result: Mapping[str, Any]) -> list[str]:
    """The issues' targets, checked against this run (only rows that ran)."""
    serial = result.get("serial", {})
    counts = _get(result, "requests", "counts") or {}
    sizes = [int(s) for s in str(result.get("args", {}).get("sizes", "0,1,3,10")).split(",")]
    lines: list[str] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    v = _get(result, "startup", "ours-thin", "wall", "median")
    if v is not None:
        lines.append(f"* `multus` VERSION under 50 ms (median): {v * 1000:.1f} ms, "
                     f"{verdict(v < 0.050)}")
    for n in sizes:
        c = _median(_get(counts, "ours-thin", f"ADD {n}") or [])
        if c is not None:
            lines.append(f"* thin ADD with {n} NADs at most {2 + n} API requests: {c:g}, "
                         f"{verdict(c <= 2 + n)}")
    for n in sizes:
        raw = _get(serial, "raw", f"ADD {n}", "wall", "median")
        o = _get(serial, "ours-thick", f"ADD {n}", "wall", "median")
        u = _get(serial, "upstream-thick", f"ADD {n}", "wall", "median")
        if None not in (raw, o, u):
            lines.append(f"* thick ADD overhead over raw, {n} NADs, no worse than upstream: "
                         f"{(o - raw) * 1000:.0f} vs {(u - raw) * 1000:.0f} ms, "
                         f"{verdict(o - raw <= u - raw)}")
    o = _get(result, "burst", "ours-thick", "ADD", "pods_per_s")
    u = _get(result, "burst", "upstream-thick", "ADD", "pods_per_s")
    if o is not None and u is not None:
        lines.append(f"* thick burst ADD at least 2x upstream's pods/s: {o:.1f} vs {u:.1f}, "
                     f"{verdict(o >= 2 * u)}")
    rss = _get(result, "burst", "ours-thick", "daemon_rss_after")
    if rss is not None:
        lines.append(f"* thick daemon RSS after the burst at most 60 MiB: "
                     f"{rss / 2**20:.1f} MiB, {verdict(rss <= 60 * 2**20)}")
    return ["", "Targets (issues 2, 4, 8):", *lines] if lines else []


def _clip(text: str, n: int = 220) -> str:
    text = text.replace("`", "'").replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def update_docs(path: Path, table: str, result: Mapping[str, Any]) -> None:
    """Replace the text between the table markers in ``path`` (the rest is prose)."""
    machine = result.get("machine", {})
    header = (
        f"Run of {result.get('started')} ({result.get('seconds', 0):.0f} s), "
        f"{machine.get('cpus')} CPUs, load average {machine.get('loadavg_start', [0])[0]:.2f} "
        f"at start, kernel {machine.get('kernel')}, Python {machine.get('python')}; "
        f"options `{_options(result.get('args', {}))}`.\n\n"
    )
    block = f"{BEGIN}\n{header}{table}{END}"
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    path.write_text(text)


def _options(args: Mapping[str, Any]) -> str:
    keep = ("rounds", "sizes", "burst_pods", "parallel", "burst_nads", "startup_runs")
    return " ".join(f"--{k.replace('_', '-')} {args[k]}" for k in keep if k in args)
