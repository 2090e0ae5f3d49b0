"""``make demo`` and ``make demo-thick``: scripts/quickstart.sh, thin and ``--thick``, end to end.

Each run starts its own etcd + kube-apiserver, node and pod namespaces and node agent
(``multusctl entrypoint``, or ``multus-shim`` + ``multusctl daemon``), so these tests only
read what the script prints and what it leaves behind: the pod's ``lo``/``eth0``/``net1``
and the network-status the quickstart guide tells the user they will see, then no
namespace, temp dir or process of the run, and nothing written to the machine's own CNI
directories.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "quickstart.sh"
#: The machine's own places a quickstart must not write to (it has its node root in /tmp).
GLOBAL_PATHS = (Path("/etc/cni"), Path("/opt/cni"), Path("/var/lib/cni"), Path("/run/multus"))
WORKDIR = re.compile(r"/tmp/multusctl-quickstart\.[A-Za-z0-9]+")
STATUS_KEY = "k8s.v1.cni.cncf.io/network-status:"


def _snapshot(paths: tuple[Path, ...]) -> dict[str, float]:
    seen: dict[str, float] = {}
    for root in paths:
        if root.exists():
            seen[str(root)] = root.stat().st_mtime
            for p in root.rglob("*"):
                seen[str(p)] = p.lstat().st_mtime
    return seen


def _netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _processes_naming(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def _section(out: str, start: str, end: str) -> str:
    assert start in out, f"no {start!r} in the output"
    rest = out.split(start, 1)[1]
    assert end in rest, f"no {end!r} after {start!r}"
    return rest.split(end, 1)[0]


def _pod_links(out: str) -> dict[str, dict[str, Any]]:
    """The links that the ``ip a`` of the pod shows: name -> mac and IPv4 addresses."""
    links: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] = {}
    for line in _section(out, "\n$ ip a\n", "\n3 interfaces:").splitlines():
        head = re.match(r"^\d+: ([^:@]+)(?:@\S+)?: <", line)
        if head:
            current = links.setdefault(head.group(1), {"mac": "", "inet": []})
        elif m := re.match(r"^\s+link/\S+ ([0-9a-f:]{17}) ", line):
            current["mac"] = m.group(1)
        elif m := re.match(r"^\s+inet (\S+) ", line):
            current["inet"].append(ipaddress.ip_interface(m.group(1)))
    return links


def _network_status(out: str) -> list[dict[str, Any]]:
    """The network-status JSON out of the ``kubectl describe pod samplepod`` lines."""
    section = _section(out, STATUS_KEY, "\n== ")
    status, _ = json.JSONDecoder().raw_decode(section.lstrip())
    assert isinstance(status, list), status
    return status


@pytest.mark.parametrize("mode", ["thin", "thick", "thick-frozen-shim"])
def test_quickstart_runs_end_to_end_and_leaves_nothing(mode: str) -> None:
    """Both thick modes run the thick init container's ``multusctl install --shim-only``
    from the applied DaemonSet: ``thick`` on a node whose /usr is this machine's (the
    python launcher), ``thick-frozen-shim`` (``--node-without-python``) on one without
    python3 (the frozen build, which the quickstart builds when not current)."""
    if os.geteuid() != 0:
        pytest.fail("scripts/quickstart.sh needs root (network namespaces)", pytrace=False)
    thick = mode.startswith("thick")
    argv = ["bash", str(SCRIPT)] + (["--thick"] if thick else [])
    if mode == "thick-frozen-shim":
        argv.append("--node-without-python")
    env = dict(os.environ)
    netns_before = _netns()
    paths_before = _snapshot(GLOBAL_PATHS)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, env=env) as proc:
        try:
            raw, _ = proc.communicate(timeout=480)
        except subprocess.TimeoutExpired:
            proc.terminate()  # the script's trap cleans up
            raw, _ = proc.communicate(timeout=60)
            pytest.fail(f"{SCRIPT.name} ran over 480 s:\n{raw.decode()[-4000:]}")
    out = raw.decode(errors="replace")
    assert proc.returncode == 0, out[-6000:]
    assert "== Done: the quickstart ran end to end" in out

    # ---- what the guide says the user sees: lo, eth0, net1 in the pod
    links = _pod_links(out)
    assert set(links) == {"lo", "eth0", "net1"}, out
    eth0_ip = links["eth0"]["inet"][0].ip
    net1_ip = links["net1"]["inet"][0].ip
    assert eth0_ip in ipaddress.ip_network("10.244.1.0/24")  # the default network (cbr0)
    # macvlan-conf's host-local range
    assert ipaddress.ip_address("192.168.1.200") <= net1_ip <= ipaddress.ip_address(
        "192.168.1.216")

    # ---- and the network-status annotation: the cluster network, then macvlan-conf
    status = _network_status(out)
    assert [s["name"] for s in status] == ["cbr0", "default/macvlan-conf"], status
    cluster, macvlan = status
    assert cluster["default"] is True
    assert cluster["interface"] == "eth0"
    assert cluster["ips"] == [str(eth0_ip)]
    assert cluster["mac"] == links["eth0"]["mac"]
    assert "default" not in macvlan
    assert macvlan["interface"] == "net1"
    assert macvlan["ips"] == [str(net1_ip)]
    assert macvlan["mac"] == links["net1"]["mac"]

    # ---- the plugin the runtime ran: multus itself, or the shim talking to the daemon
    conf = json.loads(_section(out, "$ cat <node>/etc/cni/net.d/00-multus.conf\n", "\n== "))
    if not thick:
        assert conf["type"] == "multus"
        assert "multusctl entrypoint output" in out
    else:
        install = _section(out, "\n$ multusctl install --shim-only --layout=auto "
                           "--host-root=/host --cni-bin-dir=/host/opt/cni/bin "
                           "--frozen-shim-dir=/usr/src/multus-cni/frozen/multus-shim ",
                           "\n$ ls -l <node>/opt/cni/bin\n")
        shim = r"/node-root/opt/cni/bin/multus-shim"
        if mode == "thick-frozen-shim":
            assert re.search(rf"^note: \S+{shim} \(frozen layout, self-contained\)$",
                             install, re.M), install
            assert re.search(rf"^wrote \S+{shim} \(-> multusctl\.d/shim-[0-9a-f]{{16}}/"
                             r"multus-shim\)$", install, re.M), install
        else:
            assert re.search(rf"^note: \S+{shim} \(python layout, host interpreter "
                             r"/usr/bin/python3 3\.\d+\)$", install, re.M), install
            assert re.search(rf"^wrote \S+{shim} \(launcher\)$", install, re.M), install
        assert install.rstrip().endswith("\ninstall: 2 changed"), install  # tree, switch
        assert "\n$ CNI_COMMAND=VERSION <node>/opt/cni/bin/multus-shim\n" in out
        assert conf["type"] == "multus-shim"
        assert conf["daemonSocketDir"].endswith("/node-root/run/multus/")
        daemon_log = _section(out, "$ multusctl daemon output (stopped with SIGTERM)\n",
                              "\nremoved:")
        assert "Add: default:samplepod:" in daemon_log
        assert ":default/macvlan-conf(macvlan-conf):net1 " in daemon_log
        assert "Del: default:samplepod:" in daemon_log
        assert "multus daemon is exited" in daemon_log

    # ---- nothing left behind
    workdirs = set(WORKDIR.findall(out))
    assert len(workdirs) == 1, workdirs
    (workdir,) = workdirs
    assert not Path(workdir).exists()
    assert _processes_naming(workdir) == []  # driver, etcd, kube-apiserver, node agent
    prefix = f"mct-qs-{proc.pid}-"
    assert f"namespace {prefix}node1" in out
    assert not {n for n in _netns() if n.startswith("mct-qs-")} - netns_before
    assert _snapshot(GLOBAL_PATHS) == paths_before
