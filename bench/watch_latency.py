"""How long from a master CNI config change to the regenerated 00-multus.conf on disk.

Runs the real entrypoint loop (watchdog/inotify, default debounce) in a thread on a temp
host root, rewrites the master N times and polls the output every 0.5 ms. The clock
starts when the master write returns: on a loaded disk the writer's own write can stall
for a second, which is not the loop's latency. Our write includes an fsync, which is.

    .venv/bin/python bench/watch_latency.py [--changes 50]

Target (issue 5): median under 100 ms. Upstream's thin_entrypoint polls every 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from multusctl.config.generate import GenerateOptions
from multusctl.installer import entrypoint as ep
from multusctl.installer.watch import Waker


class _Quiet:
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def error(self, message: str) -> None: ...
    def waiting(self, message: str, elapsed: float, timeout: float) -> None: ...


def _master(generation: int) -> bytes:
    return json.dumps(
        {"cniVersion": "0.3.1", "name": "cbr0", "plugins": [{"type": "flannel", "gen": generation}]}
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sub in ("net.d", "bin", "sa", "multus-net.d"):
            (root / sub).mkdir()
        (root / "sa" / "token").write_text("t")
        (root / "sa" / "ca.crt").write_text("c")
        netd = root / "net.d"
        (netd / "10-flannel.conflist").write_bytes(_master(0))
        options = ep.EntrypointOptions(
            cni_bin_dir=str(root / "bin"),
            cni_conf_dir=str(netd),
            multus_autoconfig_dir=str(netd),
            skip_multus_binary_copy=True,
            generate=GenerateOptions(multus_cni_conf_dir=str(root / "multus-net.d")),
            kube=ep.KubeAccess(
                service_host="10.0.0.1", service_port="443", service_account_dir=str(root / "sa")
            ),
        )
        stop, waiter = threading.Event(), Waker()
        thread = threading.Thread(
            target=ep.run, args=(options, _Quiet(), ep.RunContext(stop=stop, waiter=waiter))
        )
        thread.start()
        out = netd / "00-multus.conf"
        while not out.exists():
            time.sleep(0.01)
        time.sleep(0.2)
        latencies = []
        for generation in range(1, args.changes + 1):
            marker = f'"gen":{generation}}}'
            (netd / "10-flannel.conflist").write_bytes(_master(generation))
            start = time.monotonic()  # from the end of the master write (disk stalls excluded)
            while marker not in out.read_text().replace(" ", ""):
                time.sleep(0.0005)
            latencies.append((time.monotonic() - start) * 1000)
            time.sleep(0.02)
        stop.set()
        waiter.wake()
        thread.join()
    latencies.sort()
    print(
        f"changes={len(latencies)} median={statistics.median(latencies):.1f} ms "
        f"p90={latencies[int(len(latencies) * 0.9) - 1]:.1f} ms max={latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
