"""Side-by-side benchmark: multusctl against upstream Go Multus, same machine, same run.

    sudo .venv/bin/python bench/run.py [--rounds 5] [--quick] [--write-docs]
    make bench                                   # the same, with the builds it needs

What one run does (details in bench/README.md):

1. starts a real etcd + kube-apiserver (audit log on) and applies the project's RBAC;
2. gives every implementation its own node netns (veth ``eth0`` = macvlan master), tmp
   tree and namespace with the NADs ``net-1..net-10`` (macvlan + host-local); the cluster
   network is a bridge + host-local conflist file;
3. serial phase: for several rounds, for 0/1/3/10 NADs, each implementation in turn (the
   order flips every round: A B, B A, …) runs ADD, the checks, DEL, the leftover check and a
   second DEL, on a fresh API pod and pod netns;
4. burst phase: 50 pods with one NAD, 8 calls in flight, ADD then DEL;
5. start-up (``VERSION``), the watch-loop latency and validate-nad throughput benches;
6. writes bench/results/latest.json and latest.md (and docs/performance.md with
   ``--write-docs``).

Everything lives in namespaces and temp dirs this process creates; they are removed on
exit, on error and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
for _p in (HERE, HERE.parent / "tests" / "cluster", HERE.parent / "tests" / "privileged"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import controlplane  # noqa: E402
import impls  # noqa: E402
import kubeobjects  # noqa: E402
import manifests  # noqa: E402
import measure  # noqa: E402
import netns as nslab  # noqa: E402
import report  # noqa: E402
from impls import REPO, BenchPod, Implementation, Shared  # noqa: E402

RESULTS = HERE / "results"
DOCS = REPO / "docs" / "performance.md"
SA_USER = f"system:serviceaccount:{manifests.MULTUS_NAMESPACE}:{manifests.MULTUS_SERVICE_ACCOUNT}"
GLOBAL_PATHS = (Path("/var/lib/cni"), Path("/etc/cni"))


class Interrupted(Exception):
    """SIGTERM/SIGHUP: unwind through the finally blocks like Ctrl-C does."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(f"signal {signum}")


# --------------------------------------------------------------------------- discovery


def upstream_bin_dir() -> Path:
    out = subprocess.run(
        ["bash", str(REPO / "tests/cluster/build-upstream.sh"), "--print-bin-dir"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Path(out.strip().splitlines()[-1])


def discover(args: argparse.Namespace) -> tuple[list[Implementation], list[str]]:
    """The implementations available on this machine, and notes on the missing ones."""
    notes: list[str] = []
    venv_bin = Path(sys.executable).parent
    found: list[Implementation] = [impls.RawDelegates("raw", "raw delegates", kube=False)]
    ours = Path(args.ours) if args.ours else venv_bin / "multus"
    if not args.ours and args.ours_layout == "python":
        ours = impls.install_python_layout(venv_bin, notes)
    if impls.is_executable(ours):
        found.append(impls.ThinPlugin("ours-thin", "multusctl thin", binary=ours))
    else:
        notes.append(f"ours thin missing: {ours}")
    up = Path(args.upstream_dir) if args.upstream_dir else upstream_bin_dir()
    if impls.is_executable(up / "multus"):
        found.append(impls.ThinPlugin("upstream-thin", "upstream thin", binary=up / "multus"))
    else:
        notes.append(f"upstream thin missing: {up}/multus (run tests/cluster/build-upstream.sh)")
    try:
        if args.no_thick:
            raise ImportError("--no-thick")
        import thick

        scratch = Path(tempfile.mkdtemp(prefix="multusctl-bench-bin-"))
        impls.INSTALL_DIRS.append(scratch)
        more, thick_notes = thick.discover(
            venv_bin, up, scratch, python_layout=args.ours_layout == "python"
        )
        found += more
        notes += thick_notes
    except ImportError as e:
        notes.append(f"thick rows left out: {e}")
    if args.delegates_mode:
        found = [i for i in found if isinstance(i, (impls.RawDelegates, impls.ThinPlugin))]
        for i in found:
            i.kube = False
        notes.append("delegates mode: no API server; thick rows left out")
    if args.only:
        keep = set(args.only.split(","))
        found = [i for i in found if i.key in keep or i.key == "raw"]
    return found, notes


#: (ours key, upstream key, label) pairs that get a ratio column.
PAIRS = (("ours-thin", "upstream-thin", "thin"), ("ours-thick", "upstream-thick", "thick"))


# --------------------------------------------------------------------------- phases


@dataclass
class Call:
    impl: str
    op: str  # ADD, DEL, DEL2
    nads: int
    round: int
    wall: float
    cpu: float
    daemon_cpu: float
    apiserver_cpu: float
    rc: int
    began: float
    ended: float
    problems: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace, shared: Shared, rows: list[Implementation]):
        self.args = args
        self.shared = shared
        self.rows = rows
        self.calls: list[Call] = []
        self.findings: dict[str, list[str]] = {r.key: [] for r in rows}
        self.burst: dict[str, Any] = {}
        self.apiserver_pid = shared.cp.pid("kube-apiserver") if shared.cp else None
        self.etcd_pid = shared.cp.pid("etcd") if shared.cp else None

    def apiserver_cpu(self) -> float:
        pid = self.apiserver_pid
        return measure.proc_cpu(pid, with_children=False) if pid else 0.0

    def finding(self, impl: Implementation, text: str) -> None:
        if text not in self.findings[impl.key]:
            self.findings[impl.key].append(text)
        print(f"  ! {impl.key}: {text}", flush=True)

    def timed(self, impl: Implementation, op: str, pod: BenchPod, rnd: int) -> Call:
        fn: Callable[[BenchPod], measure.Exec] = impl.add if op == "ADD" else impl.delete
        d0, a0 = impl.daemon_cpu(), self.apiserver_cpu()
        ex = fn(pod)
        d1, a1 = impl.daemon_cpu(), self.apiserver_cpu()
        call = Call(impl.key, op, pod.nads, rnd, ex.wall, ex.cpu, d1 - d0, a1 - a0, ex.rc,
                    ex.began, ex.ended)
        if ex.rc != 0:
            call.problems.append(f"{op} failed: {ex.failure()}")
        self.calls.append(call)
        return call

    # -- serial ------------------------------------------------------------------------

    def serial(self) -> None:
        sizes = [int(s) for s in self.args.sizes.split(",")]
        for rnd in range(self.args.rounds):
            order = self.rows if rnd % 2 == 0 else list(reversed(self.rows))
            print(f"round {rnd + 1}/{self.args.rounds}: {' '.join(r.key for r in order)}",
                  flush=True)
            for n in sizes:
                for impl in order:
                    self.one_pod(impl, n, rnd)

    def one_pod(self, impl: Implementation, n: int, rnd: int) -> None:
        pod = impl.new_pod(f"p{rnd}-{n}-{len(impl.pods)}", n)
        try:
            add = self.timed(impl, "ADD", pod, rnd)
            if add.rc == 0:
                for p in impl.check_added(pod):
                    self.finding(impl, f"after ADD ({n} NADs): {p}")
            else:
                self.finding(impl, add.problems[0][:400])
            dele = self.timed(impl, "DEL", pod, rnd)
            if dele.rc != 0:
                self.finding(impl, dele.problems[0][:400])
            left = impl.leftovers([pod])
            for p in left:
                self.finding(impl, f"after DEL ({n} NADs): {p}")
            again = self.timed(impl, "DEL2", pod, rnd)
            if again.rc != 0:
                self.finding(impl, f"second DEL: {again.problems[0][:400]}")
            if left:
                impl.clear_state()
        finally:
            impl.drop_pod(pod)

    # -- burst -------------------------------------------------------------------------

    def burst_all(self) -> None:
        order = list(self.rows)
        for impl in order:
            print(f"burst: {impl.key} ({self.args.burst_pods} pods, {self.args.parallel} "
                  "in parallel)", flush=True)
            self.burst[impl.key] = self.burst_one(impl)

    def _sample_rss(self, impl: Implementation, stop: list[bool], peak: list[int]) -> None:
        while not stop:
            for pid in impl.daemon_pids():
                with contextlib.suppress(OSError):
                    peak[0] = max(peak[0], measure.proc_rss(pid))
            time.sleep(0.05)

    def burst_one(self, impl: Implementation) -> dict[str, Any]:
        n = self.args.burst_nads
        pods = [impl.new_pod(f"b{i}", n) for i in range(self.args.burst_pods)]
        out: dict[str, Any] = {"pods": len(pods), "nads": n, "parallel": self.args.parallel}
        out["daemon_rss_idle"] = self._rss(impl)
        try:
            for op in ("ADD", "DEL"):
                fn = impl.add if op == "ADD" else impl.delete
                d0, a0, e0 = impl.daemon_cpu(), self.apiserver_cpu(), self._etcd_cpu()
                stop: list[bool] = []
                peak = [0]
                sampler = threading.Thread(target=self._sample_rss, args=(impl, stop, peak))
                sampler.start()
                t0 = time.perf_counter()
                with ThreadPoolExecutor(self.args.parallel) as pool:
                    results = list(pool.map(fn, pods))
                wall = time.perf_counter() - t0
                stop.append(True)
                sampler.join()
                d1, a1, e1 = impl.daemon_cpu(), self.apiserver_cpu(), self._etcd_cpu()
                failed = [r for r in results if r.rc != 0]
                cpu = sum(r.cpu for r in results) + (d1 - d0)
                out[op] = {
                    "wall": wall,
                    "pods_per_s": len(pods) / wall,
                    "cpu": cpu,
                    "plugin_cpu": sum(r.cpu for r in results),
                    "daemon_cpu": d1 - d0,
                    "apiserver_cpu": a1 - a0,
                    "etcd_cpu": e1 - e0,
                    "failed": len(failed),
                    "daemon_rss_peak": peak[0] or None,
                }
                for r in failed[:3]:
                    self.finding(impl, f"burst {op}: {r.failure()[:300]}")
                if op == "ADD":
                    out["daemon_rss_after"] = self._rss(impl)
                    bad = 0
                    for pod in pods:
                        problems = impl.check_added(pod)
                        if problems:
                            bad += 1
                            if bad <= 2:
                                self.finding(impl, f"burst ADD check {pod.name}: {problems[0]}")
                    out["bad_pods"] = bad
            left = impl.leftovers(pods)
            for p in left:
                self.finding(impl, f"after burst DEL: {p}")
            if left:
                impl.clear_state()
        finally:
            for pod in pods:
                impl.drop_pod(pod)
        return out

    def _etcd_cpu(self) -> float:
        return measure.proc_cpu(self.etcd_pid, with_children=False) if self.etcd_pid else 0.0

    def _rss(self, impl: Implementation) -> int | None:
        pids = impl.daemon_pids()
        if not pids:
            return None
        total = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                total += measure.proc_rss(pid)
        return total

    # -- API requests --------------------------------------------------------------------

    def attribute_requests(self, audit_log: Path) -> dict[str, Any]:
        """Audit events of the two multus ServiceAccounts per serial call window."""
        events = measure.read_audit(audit_log, [SA_USER, manifests.UPSTREAM_USER])
        per: dict[str, dict[str, list[int]]] = {}
        samples: dict[str, list[str]] = {}
        for c in self.calls:
            inside = measure.events_between(events, c.began, c.ended)
            api = [e for e in inside if not e.is_event_post]
            key = f"{c.op} {c.nads}"
            per.setdefault(c.impl, {}).setdefault(key, []).append(len(api))
            per[c.impl].setdefault(f"{key} events", []).append(len(inside) - len(api))
            samples.setdefault(f"{c.impl} {key}", measure.describe(inside))
        return {"counts": per, "sample": samples}


# --------------------------------------------------------------------------- profile


def profile(bench: Bench, outdir: Path) -> dict[str, str]:
    """Our thin plugin under pyinstrument (ADD and DEL with 0, 3 and 10 NADs) and
    ``-X importtime`` of a VERSION call; the reports go to ``outdir``."""
    ours = next((r for r in bench.rows if r.key == "ours-thin"), None)
    if not isinstance(ours, impls.ThinPlugin):
        return {}
    outdir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    py = sys.executable
    for n in (0, 3, 10):
        pod = ours.new_pod(f"prof-{n}", n)
        try:
            for op in ("ADD", "DEL"):
                out = outdir / f"profile-{op.lower()}-{n}.txt"
                ours.prefix = [py, "-m", "pyinstrument", "--renderer=text",
                               "--show-all", "-o", str(out)]
                ex = ours.add(pod) if op == "ADD" else ours.delete(pod)
                ours.prefix = []
                if ex.rc != 0:
                    bench.finding(ours, f"profiled {op}: {ex.failure()[:300]}")
                files[f"{op} {n}"] = str(out)
        finally:
            ours.prefix = []
            ours.drop_pod(pod)
    env = {"CNI_COMMAND": "VERSION", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    ex = measure.run_timed([py, "-X", "importtime", str(ours.binary)], env=env,
                           stdin=b'{"cniVersion":"1.0.0"}')
    (outdir / "importtime-version.txt").write_text(ex.stderr)
    files["importtime VERSION"] = str(outdir / "importtime-version.txt")
    return files


# --------------------------------------------------------------------------- extras


def startup(rows: list[Implementation], runs: int) -> dict[str, Any]:
    """``VERSION`` start-up of each executable, interleaved, outside any netns."""
    targets: dict[str, list[str]] = {}
    for r in rows:
        if isinstance(r, impls.ThinPlugin):
            targets[r.key] = [str(r.binary)]
        elif hasattr(r, "shim"):
            targets[r.key] = [str(r.shim)]
    stdin = json.dumps({"cniVersion": "1.0.0"}).encode()
    env = {"CNI_COMMAND": "VERSION", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in targets}
    for _ in range(3):  # warm the page cache
        for argv in targets.values():
            measure.run_timed(argv, env=env, stdin=stdin)
    for i in range(runs):
        keys = list(targets) if i % 2 == 0 else list(reversed(targets))
        for k in keys:
            ex = measure.run_timed(targets[k], env=env, stdin=stdin)
            samples[k].append((ex.wall, ex.cpu))
    return {
        k: {
            "wall": measure.summary([w for w, _ in v]),
            "cpu": measure.summary([c for _, c in v]),
        }
        for k, v in samples.items()
    }


def run_script(argv: list[str], pattern: str, timeout: float = 600) -> dict[str, Any]:
    """Run a bench script, return its last line and the numbers ``pattern`` captures."""
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    text = (proc.stdout.strip().splitlines() or [""])[-1]
    out: dict[str, Any] = {"rc": proc.returncode, "line": text}
    m = re.search(pattern, proc.stdout)
    if m:
        out.update({k: float(v) for k, v in m.groupdict().items()})
    if proc.returncode not in (0, 1) or not m:
        out["stderr"] = proc.stderr[-800:]
    return out


def extras(args: argparse.Namespace) -> dict[str, Any]:
    py = sys.executable
    out: dict[str, Any] = {}
    if (HERE / "watch_latency.py").exists():
        print("watch-loop latency …", flush=True)
        out["watch"] = run_script(
            [py, str(HERE / "watch_latency.py"), "--changes", str(args.watch_changes)],
            r"median=(?P<median_ms>[\d.]+) ms p90=(?P<p90_ms>[\d.]+) ms",
        )
    if (HERE / "validate_nad_bench.py").exists():
        print("validate-nad throughput …", flush=True)
        out["validate_nad"] = run_script(
            [py, str(HERE / "validate_nad_bench.py"), "--count", str(args.nad_count),
             "--runs", "2"],
            r"(?P<count>\d+) NADs .* in (?P<wall_s>[\d.]+) s wall, (?P<cpu_s>[\d.]+) s CPU",
        )
        if "wall_s" in out["validate_nad"]:
            out["validate_nad"]["nads_per_s"] = (
                out["validate_nad"]["count"] / out["validate_nad"]["wall_s"]
            )
    return out


# --------------------------------------------------------------------------- main


def summarise(bench: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in bench.calls:
        row = out.setdefault(c.impl, {}).setdefault(f"{c.op} {c.nads}", {
            "wall": [], "cpu": [], "daemon_cpu": [], "apiserver_cpu": [], "failed": 0})
        if c.rc != 0:
            row["failed"] += 1
            continue
        row["wall"].append(c.wall)
        row["cpu"].append(c.cpu + c.daemon_cpu)
        row["daemon_cpu"].append(c.daemon_cpu)
        row["apiserver_cpu"].append(c.apiserver_cpu)
    for rows in out.values():
        for row in rows.values():
            row["apiserver_cpu_mean"] = (
                sum(row["apiserver_cpu"]) / len(row["apiserver_cpu"]) if row["apiserver_cpu"]
                else None
            )
            row["wall"] = measure.summary(row["wall"])
            row["cpu"] = measure.summary(row["cpu"])
            row["daemon_cpu"] = measure.summary(row["daemon_cpu"])
            del row["apiserver_cpu"]
    return out


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "loadavg_start": load,
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
    }


@contextlib.contextmanager
def signals() -> Iterator[None]:
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="serial rounds (default 5)")
    p.add_argument("--sizes", default="0,1,3,10", help="NADs per pod (default 0,1,3,10)")
    p.add_argument("--burst-pods", type=int, default=50)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--burst-nads", type=int, default=1)
    p.add_argument("--startup-runs", type=int, default=30)
    p.add_argument("--watch-changes", type=int, default=30)
    p.add_argument("--nad-count", type=int, default=10_000)
    p.add_argument("--quick", action="store_true",
                   help="2 rounds, 20-pod burst, 10 start-ups, no extras: a smoke run")
    p.add_argument("--no-burst", action="store_true")
    p.add_argument("--profile", action="store_true",
                   help="also profile our thin plugin (pyinstrument) into bench/results/")
    p.add_argument("--no-extras", action="store_true", help="skip watch-loop and validate-nad")
    p.add_argument("--only", help="comma-separated implementation keys (raw always runs)")
    p.add_argument("--no-thick", action="store_true", help="leave the thick rows out")
    p.add_argument("--upstream-dir", help="directory of upstream's binaries "
                   "(default: tests/cluster/build-upstream.sh --print-bin-dir)")
    p.add_argument("--delegates-mode", action="store_true",
                   help="no API server: thin rows in delegates mode (fallback when the "
                        "control-plane binaries are not built)")
    p.add_argument("--ours", help="path of our multus executable (overrides --ours-layout)")
    p.add_argument("--ours-layout", choices=("python", "venv"), default="python",
                   help="python: `multusctl install --layout python` into a temp dir (what "
                        "a node runs; default), for the thin multus and, with --with-shim, "
                        "the thick multus-shim; venv: the venv's console scripts")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--write-docs", action="store_true",
                   help=f"rewrite the table in {DOCS.relative_to(REPO)}")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.burst_pods, args.startup_runs, args.no_extras = 2, 20, 10, True
    return args


def phases(args: argparse.Namespace, bench: Bench, root: Path, result: dict[str, Any]) -> None:
    a0 = bench.apiserver_cpu()
    bench.serial()
    result["apiserver_cpu_serial"] = bench.apiserver_cpu() - a0
    result["serial"] = summarise(bench)
    if not args.delegates_mode:
        result["requests"] = bench.attribute_requests(root / "audit.log")
    if not args.no_burst:
        bench.burst_all()
    result["burst"] = bench.burst
    if args.profile:
        print("profiling ours …", flush=True)
        result["profile"] = profile(bench, args.out.parent / "profile")
    result["findings"] = bench.findings
    print("start-up …", flush=True)
    result["startup"] = startup(bench.rows, args.startup_runs)
    if not args.no_extras:
        result["extras"] = extras(args)


def execute(args: argparse.Namespace, rows: list[Implementation], result: dict[str, Any]) -> int:
    """Set everything up, run the phases, tear everything down (also on signals)."""
    root = Path(tempfile.mkdtemp(prefix="multusctl-bench-"))
    lab = nslab.Lab(nslab.default_prefix())
    cp = controlplane.ControlPlane(extra_apiserver_args=measure.audit_args(root))
    before = {str(p): nslab.snapshot(p) for p in GLOBAL_PATHS}
    api = None
    set_up: list[Implementation] = []
    rc = 0
    with signals():
        try:
            if args.delegates_mode:
                shared = Shared(cp=None, api=None, sa_kubeconfig=Path(), lab=lab, root=root)
            else:
                print("starting the control plane …", flush=True)
                cp.start()
                manifests.apply(cp)
                manifests.apply_upstream_rbac(cp)
                sa = cp.service_account_kubeconfig(
                    manifests.MULTUS_NAMESPACE, manifests.MULTUS_SERVICE_ACCOUNT
                )
                upstream_sa = cp.service_account_kubeconfig(
                    manifests.MULTUS_NAMESPACE, manifests.UPSTREAM_SERVICE_ACCOUNT
                )
                api = kubeobjects.api_client(cp.admin_kubeconfig)
                shared = Shared(cp=cp, api=api, sa_kubeconfig=sa, lab=lab, root=root,
                                upstream_kubeconfig=upstream_sa)
            for r in rows:
                set_up.append(r)
                r.setup(shared)
            phases(args, Bench(args, shared, rows), root, result)
        except (KeyboardInterrupt, Interrupted) as e:
            print(f"interrupted ({e or 'Ctrl-C'}); cleaning up", file=sys.stderr)
            rc = 130
        except Exception:  # noqa: BLE001 - report, clean up, exit non-zero
            traceback.print_exc()
            rc = 1
        finally:
            errors: list[str] = []
            for r in set_up:
                errors += r.teardown()
            if api is not None:
                api.close()
            errors += lab.teardown()
            cp.stop()
            shutil.rmtree(root, ignore_errors=True)
            for p in GLOBAL_PATHS:
                if nslab.snapshot(p) != before[str(p)]:
                    errors.append(f"{p} changed during the run")
            for e in errors:
                print(f"cleanup: {e}", file=sys.stderr)
            result["cleanup_errors"] = errors
    return rc


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/run.py needs root (network namespaces)", file=sys.stderr)
        return 2
    rows, notes = discover(args)
    for n in notes:
        print(f"note: {n}", flush=True)
    started = time.time()
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": machine(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "implementations": {r.key: r.label for r in rows},
        "notes": notes,
    }
    try:
        rc = execute(args, rows, result)
    finally:
        for d in impls.INSTALL_DIRS:
            shutil.rmtree(d, ignore_errors=True)
    result["ours_binary"] = next(
        (str(r.binary) for r in rows if isinstance(r, impls.ThinPlugin) and r.key == "ours-thin"),
        None,
    )
    if rc:
        return rc
    result["seconds"] = time.time() - started
    result["machine"]["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    table = report.render(result, PAIRS)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    print(f"results: {args.out} and {args.out.with_suffix('.md')}")
    if args.write_docs:
        report.update_docs(DOCS, table, result)
        print(f"updated {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
