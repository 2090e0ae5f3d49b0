"""Our ``multus`` driven by libcni's reference client ``cnitool``, as a runtime drives it.

Delegates mode (no Kubernetes): a bridge cluster network and a macvlan on the node's veth.
The same ADD/DEL is done twice in the same pod namespace — once by ``cnitool add``/``del``
(NETCONFPATH, CNI_PATH), once by executing the plugin directly with the environment
``cnitool`` would have built — and the two results and teardowns must be the same.

``cnitool`` keeps libcni's result cache in ``/var/lib/cni``; it runs in the node namespace
with a private mount namespace in which ``/var/lib`` is bound to a tmp directory, so the
machine's own ``/var/lib/cni`` is never touched (checked after every test).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "privileged"))

import netns as nslab  # noqa: E402
from cnitier import (  # noqa: E402
    CNI_BIN_DIR,
    Dirs,
    RunCni,
    bridge_conf,
    leftover_problems,
    macvlan_conf,
    multus_conf,
)

VERSIONS = ["0.3.1", "0.4.0", "1.0.0"]
NETWORK = "multus-cni-network"
HOST_CNI_CACHE = Path("/var/lib/cni")


def cnitool_container_id(netns_path: str) -> str:
    """The container ID cnitool derives from the absolute netns path (libcni v1.3.0)."""
    return "cnitool-" + hashlib.sha512(netns_path.encode()).hexdigest()[:20]


def multus_executable() -> Path:
    override = os.environ.get("MULTUS_BIN")
    path = Path(override) if override else Path(sys.executable).parent / "multus"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"the multus executable is missing at {path}", pytrace=False)
    return path


def strip_random(value: Any) -> Any:
    """Results with the random parts (MAC addresses, host-side veth names) taken out."""
    if isinstance(value, dict):
        return {k: strip_random(v) for k, v in value.items() if k != "mac"}
    if isinstance(value, list):
        return [strip_random(v) for v in value]
    if isinstance(value, str) and value.startswith("veth"):
        return "veth*"
    return value


@pytest.fixture
def lab() -> Iterator[nslab.Lab]:
    if os.geteuid() != 0:
        pytest.fail("cnitool tests need root (network namespaces)", pytrace=False)
    the_lab = nslab.Lab(nslab.default_prefix())
    host_cache_before = nslab.snapshot(HOST_CNI_CACHE)
    yield the_lab
    errors = the_lab.teardown()
    assert not errors, f"namespace teardown failed: {errors}"
    assert nslab.snapshot(HOST_CNI_CACHE) == host_cache_before, "/var/lib/cni changed"


class Runtime:
    """One tmp tree: node root (/var/lib stand-in, bin dir, NETCONFPATH) + multus dirs."""

    def __init__(self, root: Path, cnitool: Path, node: nslab.Node, version: str) -> None:
        self.cnitool = cnitool
        self.node = node
        self.dirs = Dirs.make(root / "state")
        self.var_lib = root / "var-lib"
        self.var_lib.mkdir()
        self.bin_dir = root / "bin"
        self.bin_dir.mkdir()
        (self.bin_dir / "multus").symlink_to(multus_executable())
        self.conf_dir = root / "net.d"
        self.conf_dir.mkdir()
        delegates = [bridge_conf(version, self.dirs), macvlan_conf(version, self.dirs, 1)]
        self.config = multus_conf(version, self.dirs, delegates, name=NETWORK)
        (self.conf_dir / "00-multus.conf").write_text(json.dumps(self.config))
        self.cni_path = f"{self.bin_dir}:{CNI_BIN_DIR}"

    def run_cnitool(self, command: str, pod: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "NETCONFPATH": str(self.conf_dir),
            "CNI_PATH": self.cni_path,
            "CNI_IFNAME": "eth0",
        }
        script = 'mount --bind "$1" /var/lib && shift && exec "$@"'
        argv = ["ip", "netns", "exec", self.node.name, "sh", "-c", script, "sh",
                str(self.var_lib), str(self.cnitool), command, NETWORK,
                str(nslab.NETNS_DIR / pod)]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                              check=False)

    def libcni_cache(self) -> list[str]:
        results = self.var_lib / "cni" / "results"
        return sorted(p.name for p in results.iterdir()) if results.is_dir() else []


def reset_ipam(dirs: Dirs) -> None:
    """Give host-local a fresh dataDir so both runs allocate the same addresses."""
    for lease_dir in dirs.ipam.iterdir():
        for f in lease_dir.iterdir():
            f.unlink()
        lease_dir.rmdir()


@pytest.mark.parametrize("version", VERSIONS)
def test_cnitool_add_del_matches_direct_exec(
    lab: nslab.Lab, cnitool_path: Path, tmp_path: Path, version: str
) -> None:
    node = lab.node()
    pod = lab.pod()
    rt = Runtime(tmp_path, cnitool_path, node, version)
    netns_path = str(nslab.NETNS_DIR / pod)
    container_id = cnitool_container_id(netns_path)

    # --- through cnitool (libcni: config loading, CNI_PATH lookup, result cache)
    added = rt.run_cnitool("add", pod)
    assert added.returncode == 0, f"cnitool add failed: {added.stdout}{added.stderr}"
    via_cnitool = json.loads(added.stdout)
    assert "Traceback" not in added.stderr
    assert via_cnitool["cniVersion"] == version
    # libcni cached the result under the ID cnitool derives; multus its own scratch cache.
    assert rt.libcni_cache() == [f"{NETWORK}-{container_id}-eth0"]
    assert (rt.dirs.cni / container_id).is_file()
    links_cnitool = nslab.link_names(pod)
    addrs_cnitool = nslab.addresses(pod, family=4)
    assert links_cnitool == {"lo", "eth0", "net1"}

    deleted = rt.run_cnitool("del", pod)
    assert deleted.returncode == 0, f"cnitool del failed: {deleted.stdout}{deleted.stderr}"
    assert rt.libcni_cache() == []
    assert leftover_problems(node, pod, rt.dirs) == []

    # --- the same ADD/DEL executed directly, as cnitool would have executed it
    reset_ipam(rt.dirs)
    run = RunCni(node, rt.bin_dir / "multus")
    direct = run("ADD", rt.config, container_id, pod, "eth0", args="", path=rt.cni_path)
    assert direct.rc == 0, direct.stdout + direct.stderr
    assert nslab.link_names(pod) == links_cnitool
    assert nslab.addresses(pod, family=4) == addrs_cnitool
    assert strip_random(direct.out) == strip_random(via_cnitool)

    gone = run("DEL", rt.config, container_id, pod, "eth0", args="", path=rt.cni_path)
    assert gone.rc == 0, gone.stdout + gone.stderr
    assert leftover_problems(node, pod, rt.dirs) == []


def test_cnitool_add_failure_is_cni_error_and_leaves_nothing(
    lab: nslab.Lab, cnitool_path: Path, tmp_path: Path
) -> None:
    """A delegate that fails ADD (tuning outside a chain): an error, nothing left."""
    node = lab.node()
    pod = lab.pod()
    rt = Runtime(tmp_path, cnitool_path, node, "1.0.0")
    # tuning refuses an ADD without a prevResult, and its DEL succeeds.
    broken = {"cniVersion": "1.0.0", "name": "tuning-alone", "type": "tuning"}
    rt.config["delegates"].append(broken)
    (rt.conf_dir / "00-multus.conf").write_text(json.dumps(rt.config))

    added = rt.run_cnitool("add", pod)
    assert added.returncode != 0
    assert "Traceback" not in added.stderr
    # cnitool prints the plugin's CNI error message; ours names the failing network.
    assert "tuning-alone" in added.stderr + added.stdout
    # The rollback ran: the first two delegates are gone again, no lease is held.
    assert rt.libcni_cache() == []
    problems = [p for p in leftover_problems(node, pod, rt.dirs) if "cache files" not in p]
    assert problems == []
    deleted = rt.run_cnitool("del", pod)
    assert deleted.returncode == 0, deleted.stderr
    assert leftover_problems(node, pod, rt.dirs) == []
