"""Start-up time of ``multus`` or ``multus-shim`` in each node layout (CNI VERSION, wall clock).

Every pod sandbox runs the plugin at least once, so its start-up is on the critical
path. Measured per layout: the median (and min/max) of N runs of ``CNI_COMMAND=VERSION``
answering on stdout, from ``fork`` to exit.

* ``frozen``: the PyInstaller ``--onedir`` build (``scripts/build-node-binary.sh``);
* ``frozen-installed``: the same, installed by ``multusctl install --layout frozen``
  (``<bin>/multus`` is a symlink into ``multusctl.d/``);
* ``python-installed``: ``multusctl install --layout python``: the launcher script
  (``#!/usr/bin/python3 -IS``) importing a private copy of the package;
* ``python3 -S -E launcher``: the same launcher run explicitly by ``python3 -S -E``;
* ``venv console script``: ``.venv/bin/multus`` (site-packages, entry-point shim).

With ``--target multus-shim``, thick mode's shim in the same layouts (installed with
``--shim-only``, and with ``--with-shim`` next to the thin plugin), plus upstream's Go
``multus-shim`` when tests/cluster/build-upstream.sh has built it.

    .venv/bin/python bench/startup.py [--target multus|multus-shim] [--runs 20]
                                      [--frozen build/node/<target>] [--json]

Builds the frozen executable first when it is missing (a few minutes, cached).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from multusctl.installer.install import HostPaths, InstallOptions, find_host_python, install

REPO = Path(__file__).resolve().parents[1]
ENV = {"CNI_COMMAND": "VERSION", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
STDIN = b'{"cniVersion":"1.0.0"}'


def measure(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user+sys of the child) milliseconds of ``runs`` executions,
    after one warm-up run. CPU time is what stays comparable on a loaded machine."""
    wall, cpu = [], []
    for i in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, input=STDIN, env=ENV, capture_output=True, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0 or b"supportedVersions" not in proc.stdout:
            raise SystemExit(f"{argv}: rc={proc.returncode} {proc.stdout!r} {proc.stderr!r}")
        if i:  # the first run warms the page cache
            wall.append(elapsed)
            cpu.append(((after.ru_utime - before.ru_utime)
                        + (after.ru_stime - before.ru_stime)) * 1000)
    return wall, cpu


def frozen_build(path: Path, target: str) -> Path:
    if not os.access(path / target, os.X_OK):
        out = subprocess.run(
            ["bash", str(REPO / "scripts" / "build-node-binary.sh"), "--target", target,
             "--out", str(path.parent)],
            check=True, capture_output=True, text=True,
        ).stdout
        return Path(out.strip().splitlines()[-1]).parent
    return path


def upstream_shim() -> Path | None:
    """Upstream's Go ``multus-shim``, when tests/cluster/build-upstream.sh has built it."""
    proc = subprocess.run(
        ["bash", str(REPO / "tests" / "cluster" / "build-upstream.sh"), "--print-bin-dir"],
        capture_output=True, text=True, check=False,
    )
    lines = proc.stdout.strip().splitlines()
    exe = Path(lines[-1]) / "multus-shim" if proc.returncode == 0 and lines else None
    return exe if exe is not None and os.access(exe, os.X_OK) else None


def shim_rows(tmp: Path, frozen: Path) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {"frozen (onedir)": [str(frozen / "multus-shim")]}
    frozen_bin = tmp / "frozen-bin"
    frozen_bin.mkdir()
    install(InstallOptions(cni_bin_dir=str(frozen_bin), layout="frozen", shim=True,
                           skip_binary=True, frozen_shim_dir=str(frozen), skip_config=True))
    rows["frozen-installed (symlink)"] = [str(frozen_bin / "multus-shim")]
    host_python = find_host_python(HostPaths("/"))
    if host_python is not None:
        for how, shim_only in (("--shim-only", True), ("--with-shim", False)):
            py_bin = tmp / f"python-bin{how}"
            py_bin.mkdir()
            install(InstallOptions(cni_bin_dir=str(py_bin), layout="python", shim=True,
                                   skip_binary=shim_only, skip_config=True))
            rows[f"python-installed {how} ({host_python.path} -IS)"] = [
                str(py_bin / "multus-shim")]
    rows["venv console script"] = [str(Path(sys.executable).parent / "multus-shim")]
    upstream = upstream_shim()
    if upstream is not None:
        rows["upstream Go multus-shim"] = [str(upstream)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("multus", "multus-shim"), default="multus")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--frozen", type=Path,
                        help="the onedir build [default: build/node/<target>]")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    frozen = frozen_build(args.frozen or REPO / "build" / "node" / args.target, args.target)
    if args.target == "multus-shim":
        with tempfile.TemporaryDirectory(prefix="multusctl-startup-") as tmp:
            rows = shim_rows(Path(tmp), frozen)
            results = {name: measure(argv, args.runs) for name, argv in rows.items()}
        report(results, args)
        return
    host_python = find_host_python(HostPaths("/"))
    rows = {"frozen (onedir)": [str(frozen / "multus")]}
    with tempfile.TemporaryDirectory(prefix="multusctl-startup-") as tmp:
        frozen_bin = Path(tmp) / "frozen-bin"
        frozen_bin.mkdir()
        install(InstallOptions(cni_bin_dir=str(frozen_bin), layout="frozen",
                               frozen_dir=str(frozen), skip_config=True))
        rows["frozen-installed (symlink)"] = [str(frozen_bin / "multus")]
        if host_python is not None:
            py_bin = Path(tmp) / "python-bin"
            py_bin.mkdir()
            install(InstallOptions(cni_bin_dir=str(py_bin), layout="python",
                                   skip_config=True))
            rows[f"python-installed ({host_python.path} -IS)"] = [str(py_bin / "multus")]
            rows[f"{host_python.path} -S -E launcher"] = [
                host_python.path, "-S", "-E", str(py_bin / "multus")]
        rows["venv console script"] = [str(Path(sys.executable).parent / "multus")]

        results = {name: measure(argv, args.runs) for name, argv in rows.items()}
    report(results, args)


def report(results: dict[str, tuple[list[float], list[float]]],
           args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps({n: {"median_ms": statistics.median(w), "min_ms": min(w),
                              "max_ms": max(w), "cpu_median_ms": statistics.median(c),
                              "runs": len(w)}
                          for n, (w, c) in results.items()}, indent=2))
        return
    print(f"{args.target} VERSION start-up, {args.runs} runs each "
          f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    width = max(len(n) for n in results)
    print(f"{'layout':<{width}}  wall median     min     max   cpu median")
    for name, (w, c) in results.items():
        print(f"{name:<{width}}  {statistics.median(w):11.1f}  {min(w):6.1f}  {max(w):6.1f}"
              f"  {statistics.median(c):11.1f}  ms")


if __name__ == "__main__":
    main()
