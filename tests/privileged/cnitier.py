"""Shared pieces of the privileged scenarios: tmp tree, plugin runner, configs, checks.

Plain Python (no pytest import) so bench scripts can reuse the runner and config builders.
"""

from __future__ import annotations

import copy
import json
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netns as nslab

CNI_BIN_DIR = "/usr/lib/cni"
#: Links a node namespace may hold once every pod is gone: the veth pair, and the
#: bridges the bridge plugin creates (it never deletes them, by design).
NODE_BASE_LINKS = frozenset({"lo", nslab.NODE_UPLINK, nslab.NODE_PEER})
CLUSTER_SUBNET = "10.244.0.0/24"


@dataclass(frozen=True)
class Dirs:
    """The per-test tmp tree: ``root/cni`` is multus' cniDir, ``root/ipam`` host-local's."""

    root: Path
    cni: Path
    ipam: Path

    @classmethod
    def make(cls, root: Path) -> Dirs:
        d = cls(root, root / "cni", root / "ipam")
        d.cni.mkdir(parents=True, exist_ok=True)
        d.ipam.mkdir(parents=True, exist_ok=True)
        return d


class TracebackInStderr(AssertionError):
    pass


class RunCni:
    """``run_cni(command, config, containerid, netns, ifname, args=…)`` inside the node.

    ``netns`` is a pod namespace *name* (turned into ``/run/netns/<name>``) or an absolute
    path. Pass ``None`` for ``command``/``containerid``/``netns``/``ifname``/``args``/
    ``path`` to leave that variable out; ``env`` adds or overrides variables; ``plugin``
    runs another executable (a reference plugin, to validate the harness itself).
    A Python traceback on stderr is always a failure.
    """

    def __init__(self, node: nslab.Node, plugin: Path) -> None:
        self.node = node
        self.plugin = plugin

    def __call__(
        self,
        command: str | None,
        config: Mapping[str, Any] | str | bytes,
        containerid: str | None = "ctr-0001",
        netns: str | None = None,
        ifname: str | None = "eth0",
        *,
        args: str | None = "",
        path: str | None = CNI_BIN_DIR,
        env: Mapping[str, str] | None = None,
        plugin: Path | str | None = None,
    ) -> nslab.CniRun:
        if netns is not None and not netns.startswith("/"):
            netns = str(nslab.NETNS_DIR / netns)
        environ = nslab.cni_env(
            command, containerid=containerid, netns=netns, ifname=ifname, args=args,
            path=path, extra=env,
        )
        result = nslab.cni_exec(plugin or self.plugin, environ, config, node=self.node.name)
        if "Traceback (most recent call last)" in result.stderr:
            raise TracebackInStderr(result.stderr)
        return result


# --------------------------------------------------------------------------- configs


def bridge_conf(
    version: str, dirs: Dirs, *, name: str = "cluster", bridge: str = "cni0",
    subnet: str = CLUSTER_SUBNET,
) -> dict[str, Any]:
    """bridge + host-local, the usual cluster network."""
    return {
        "cniVersion": version, "name": name, "type": "bridge", "bridge": bridge,
        "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "subnet": subnet, "dataDir": str(dirs.ipam)},
    }


def macvlan_subnet(index: int) -> str:
    return f"192.168.{index}.0/24"


def macvlan_conf(
    version: str, dirs: Dirs, index: int, *, master: str = nslab.NODE_UPLINK
) -> dict[str, Any]:
    """macvlan ``macvlan-<index>`` on the node's veth, subnet 192.168.<index>.0/24."""
    return {
        "cniVersion": version, "name": f"macvlan-{index}", "type": "macvlan",
        "master": master, "mode": "bridge",
        "ipam": {
            "type": "host-local", "subnet": macvlan_subnet(index),
            "rangeStart": f"192.168.{index}.200", "rangeEnd": f"192.168.{index}.216",
            "dataDir": str(dirs.ipam),
        },
    }


def conflist(version: str, name: str, plugins: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A conflist whose plugins carry neither ``name`` nor ``cniVersion`` (libcni injects)."""
    stripped = []
    for p in plugins:
        q = copy.deepcopy(dict(p))
        q.pop("name", None)
        q.pop("cniVersion", None)
        stripped.append(q)
    return {"cniVersion": version, "name": name, "plugins": stripped}


def multus_conf(
    version: str, dirs: Dirs, delegates: Iterable[Mapping[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A delegates-mode Multus config (no kubeconfig, no clusterNetwork)."""
    conf: dict[str, Any] = {
        "cniVersion": version, "name": "multus-cni-network", "type": "multus",
        "cniDir": str(dirs.cni), "binDir": CNI_BIN_DIR, "delegates": list(delegates),
    }
    conf.update(extra)
    return conf


def delegate_name(delegate: Mapping[str, Any]) -> str:
    return str(delegate["name"])


def ifname_for(index: int, master_ifname: str = "eth0") -> str:
    """Upstream naming: the master gets the runtime's ifname, delegate k gets ``net<k>``."""
    return master_ifname if index == 0 else f"net{index}"


# --------------------------------------------------------------------------- checks


def cache_files(dirs: Dirs) -> list[str]:
    """Regular files under cniDir, relative (directories alone are not state)."""
    return sorted(str(p.relative_to(dirs.cni)) for p in dirs.cni.rglob("*") if p.is_file())


def scratch_cache(dirs: Dirs, containerid: str) -> tuple[int, Any]:
    """(file mode bits, parsed JSON) of the scratch delegate cache ``<cniDir>/<id>``."""
    path = dirs.cni / containerid
    return stat.S_IMODE(path.stat().st_mode), json.loads(path.read_text())


def unexpected_changes(
    before: Mapping[str, nslab.FileState],
    after: Mapping[str, nslab.FileState],
    networks: Iterable[str],
) -> list[str]:
    """Paths changed under the tmp root that are neither our cache nor host-local's files.

    Allowed: anything under ``cni/`` (multus' scratch and result caches) and under
    ``ipam/<network>/`` for the delegates' own networks (leases, lock, last_reserved_ip).
    """
    allowed = ("cni", *(f"ipam/{n}" for n in networks))
    bad = []
    for rel in nslab.diff(before, after).touched:
        if rel == "ipam":
            continue
        if not any(rel == a or rel.startswith(a + "/") for a in allowed):
            bad.append(rel)
    return bad


def leftover_problems(node: nslab.Node, pod: str, dirs: Dirs) -> list[str]:
    """Everything a finished pod may not leave behind: links, leases, cache files."""
    problems = []
    pod_links = nslab.link_names(pod)
    if pod_links != {"lo"}:
        problems.append(f"pod namespace still has links {sorted(pod_links - {'lo'})}")
    node_links = node.link_names()
    extra = {n for n in node_links - NODE_BASE_LINKS if not n.startswith("cni")}
    if extra:
        problems.append(f"node namespace still has links {sorted(extra)}")
    leases = nslab.host_local_leases(dirs.ipam)
    if leases:
        problems.append(f"host-local leases still held: {leases}")
    files = cache_files(dirs)
    if files:
        problems.append(f"cache files left in cniDir: {files}")
    return problems
