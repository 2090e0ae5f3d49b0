"""Benchmark: `multusctl validate-nad --output json` on 10,000 NADs, end to end.

Generates one multi-document YAML file with N NetworkAttachmentDefinitions (a mix of
macvlan/host-local, ipvlan/whereabouts, bridge conflists and static IPAM, each on its own
subnet, written the way people write them: pretty JSON inside a YAML string), runs the
real CLI on it as a subprocess and prints the wall time. The issue's budget is 2 s.

    .venv/bin/python bench/validate_nad_bench.py [--count 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 2.0


def config(i: int) -> dict[str, object]:
    a, b = divmod(i, 250)
    kind = i % 4
    if kind == 0:
        return {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth1", "mode": "bridge",
                "ipam": {"type": "host-local", "subnet": f"10.{a}.{b}.0/24",
                         "rangeStart": f"10.{a}.{b}.10", "rangeEnd": f"10.{a}.{b}.200",
                         "routes": [{"dst": "0.0.0.0/0"}], "gateway": f"10.{a}.{b}.1"}}
    if kind == 1:
        return {"cniVersion": "1.0.0", "type": "ipvlan", "master": "eth2", "mode": "l2",
                "ipam": {"type": "whereabouts", "range": f"172.{16 + a % 16}.{b}.0/24",
                         "exclude": [f"172.{16 + a % 16}.{b}.0/28"]}}
    if kind == 2:
        return {"cniVersion": "1.0.0", "name": f"net-{i}", "plugins": [
            {"type": "bridge", "bridge": f"br{i}", "isGateway": True, "mtu": 1450,
             "ipam": {"type": "host-local",
                      "ranges": [[{"subnet": f"10.{100 + a}.{b}.0/24"}],
                                 [{"subnet": f"fd00:{i:x}::/64"}]]}},
            {"type": "tuning"},
            {"type": "portmap", "capabilities": {"portMappings": True}}]}
    return {"cniVersion": "0.4.0", "type": "vlan", "master": "eth0", "vlanId": 1 + i % 4000,
            "ipam": {"type": "static",
                     "addresses": [{"address": f"192.168.{b}.{1 + a % 250}/24",
                                    "gateway": f"192.168.{b}.254"}]}}


def manifest(i: int) -> str:
    body = json.dumps(config(i), indent=2).replace("\n", "\n    ")
    return (
        "apiVersion: k8s.cni.cncf.io/v1\n"
        "kind: NetworkAttachmentDefinition\n"
        "metadata:\n"
        f"  name: net-{i}\n"
        f"  namespace: team-{i % 50}\n"
        "spec:\n"
        f"  config: '{body}'\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    exe = Path(sys.executable).parent / "multusctl"
    cmd = [str(exe)] if exe.exists() else [
        sys.executable, "-c", "from multusctl.cli.app import main; main()"]
    with tempfile.TemporaryDirectory(prefix="validate-nad-bench-") as tmp:
        path = Path(tmp, "nads.yaml")
        path.write_text("---\n".join(manifest(i) for i in range(args.count)))
        size = path.stat().st_size
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            cpu0 = os.times()
            proc = subprocess.run([*cmd, "validate-nad", "--output", "json", str(path)],
                                  capture_output=True, text=True, check=False)
            cpu1 = os.times()
            wall = time.perf_counter() - start
            cpu = (cpu1.children_user - cpu0.children_user) + (
                cpu1.children_system - cpu0.children_system)
            times.append((wall, cpu))
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                print(f"validate-nad exited {proc.returncode}", file=sys.stderr)
                return 1
            results = json.loads(proc.stdout)["results"]
            assert len(results) == args.count, len(results)
    best_wall = min(w for w, _ in times)
    best_cpu = min(c for _, c in times)
    print(f"validate-nad --output json: {args.count} NADs ({size / 1e6:.1f} MB) in "
          f"{best_wall:.2f} s wall, {best_cpu:.2f} s CPU (best of {args.runs}; "
          f"runs: {', '.join(f'{w:.2f}' for w, _ in times)}); budget {BUDGET_S:.1f} s")
    return 0 if best_wall < BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
