"""Throw-away network namespaces for the privileged tier, bench scripts and the demo.

Plain Python (stdlib + the ``ip`` tool), no pytest: a :class:`Lab` owns every namespace it
creates and deletes them all in :meth:`Lab.teardown`, which is safe to call twice and keeps
going when one deletion fails. Nothing is ever created in, or moved to, the root namespace:

* the **node** namespace stands in for a Kubernetes node. It holds a veth pair whose end
  ``eth0`` is the macvlan master (this kernel has no ``dummy`` module) and whose other end
  ``uplink0`` stays in the same namespace. CNI plugins are executed *inside* it
  (``ip netns exec <node> …``), so bridges, host-side veths and macvlans live there;
* **pod** namespaces are plain ``ip netns add`` namespaces; their path
  ``/run/netns/<name>`` is what a runtime passes as ``CNI_NETNS``.

Every name starts with a per-process prefix ``mct-<pid>-`` so a leak is attributable and
:func:`leftovers` can check that nothing of ours survived.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NETNS_DIR = Path("/run/netns")
#: The end of the node's veth pair that plugins use as macvlan master.
NODE_UPLINK = "eth0"
#: The other end of that veth pair; it stays inside the node namespace.
NODE_PEER = "uplink0"


def default_prefix(pid: int | None = None) -> str:
    """The per-process name prefix, ``mct-<pid>-``."""
    return f"mct-{os.getpid() if pid is None else pid}-"


class NetnsError(RuntimeError):
    """A command needed to build or inspect the lab failed."""


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` (inside ``netns`` when given) and capture stdout/stderr as bytes.

    ``env`` replaces the environment entirely (a runtime passes a controlled one); ``None``
    inherits ours. ``ip netns exec`` passes the environment through unchanged.
    """
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    proc = subprocess.run(
        full,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise NetnsError(
            f"{' '.join(full)} exited {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    return proc


def netns_list() -> list[str]:
    """Names of the namespaces known to ``ip netns`` (files in /run/netns)."""
    out = run(["ip", "-j", "netns", "list"]).stdout.strip()
    if not out:
        return []
    return sorted(str(e["name"]) for e in json.loads(out))


def leftovers(prefix: str) -> list[str]:
    """Namespaces whose name starts with ``prefix`` (should be empty after teardown)."""
    return [n for n in netns_list() if n.startswith(prefix)]


def ip_json(netns: str | None, *args: str) -> list[dict[str, Any]]:
    """``ip -j [-n netns] <args>`` parsed; an empty output is an empty list."""
    argv = ["ip", "-j"]
    if netns:
        argv += ["-n", netns]
    out = run([*argv, *args]).stdout.strip()
    if not out:
        return []
    data = json.loads(out)
    if not isinstance(data, list):
        raise NetnsError(f"unexpected ip -j output for {args}: {out[:200]!r}")
    return data


def links(netns: str) -> dict[str, dict[str, Any]]:
    """Link name → ``ip -j link`` entry, for every link in ``netns``."""
    return {str(e["ifname"]): e for e in ip_json(netns, "link", "show")}


def link_names(netns: str) -> set[str]:
    return set(links(netns))


def link_names_root() -> set[str]:
    """Link names of the root namespace (read-only: only used to check nothing changed)."""
    return {str(e["ifname"]) for e in ip_json(None, "link", "show")}


def addresses(netns: str, *, family: int | None = None) -> dict[str, list[str]]:
    """Link name → its addresses as ``ip/prefix`` (scope global and host; no link-local v6).

    ``family`` 4 or 6 filters; every link appears, with an empty list if it has none.
    """
    result: dict[str, list[str]] = {}
    for entry in ip_json(netns, "addr", "show"):
        addrs: list[str] = []
        for info in entry.get("addr_info", []):
            fam = info.get("family")
            if family == 4 and fam != "inet":
                continue
            if family == 6 and fam != "inet6":
                continue
            if fam == "inet6" and info.get("scope") == "link":
                continue
            addrs.append(f"{info['local']}/{info['prefixlen']}")
        result[str(entry["ifname"])] = addrs
    return result


def routes(netns: str, *, family: int = 4) -> list[dict[str, Any]]:
    """``ip -j -<family> route show`` entries (``dst``, ``gateway``, ``dev``, …)."""
    return ip_json(netns, f"-{family}", "route", "show")


def in_subnet(address: str, subnet: str) -> bool:
    """Whether ``address`` (``ip`` or ``ip/prefix``) lies in ``subnet``."""
    ip = ipaddress.ip_interface(address).ip
    return ip in ipaddress.ip_network(subnet, strict=False)


def host_local_leases(data_dir: Path) -> dict[str, dict[str, str]]:
    """host-local lease files under ``data_dir``: network → {ip: "<containerID>\\n<ifname>"}.

    host-local keeps one directory per network name; a lease is a file named after the IP
    address. ``lock`` and ``last_reserved_ip.*`` are bookkeeping, not leases.
    """
    leases: dict[str, dict[str, str]] = {}
    if not data_dir.is_dir():
        return leases
    for net_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        for f in sorted(net_dir.iterdir()):
            try:
                ipaddress.ip_address(f.name)
            except ValueError:
                continue
            leases.setdefault(net_dir.name, {})[f.name] = f.read_text()
    return leases


@dataclass(frozen=True)
class FileState:
    mode: int
    size: int
    digest: str


def snapshot(root: Path) -> dict[str, FileState]:
    """Every file and directory under ``root`` (relative path → mode, size, sha256)."""
    state: dict[str, FileState] = {}
    if not root.exists():
        return state
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_symlink():
            digest = "->" + os.readlink(path)
        else:
            digest = ""
        state[rel] = FileState(st.st_mode, st.st_size if digest else 0, digest)
    return state


@dataclass(frozen=True)
class SnapshotDiff:
    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def touched(self) -> list[str]:
        return sorted({*self.added, *self.removed, *self.changed})


def diff(before: Mapping[str, FileState], after: Mapping[str, FileState]) -> SnapshotDiff:
    return SnapshotDiff(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        changed=sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    )


@dataclass
class Node:
    """A node namespace with the veth ``eth0`` (macvlan master) and its peer ``uplink0``."""

    name: str

    @property
    def path(self) -> str:
        return str(NETNS_DIR / self.name)

    def exec(self, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` inside this namespace (see :func:`run`)."""
        return run(argv, netns=self.name, **kw)

    def link_names(self) -> set[str]:
        return link_names(self.name)


@dataclass
class Lab:
    """Creates namespaces with a common prefix and deletes all of them on teardown."""

    prefix: str = field(default_factory=default_prefix)
    created: list[str] = field(default_factory=list)
    _counter: int = 0

    def _name(self, kind: str) -> str:
        self._counter += 1
        name = f"{self.prefix}{kind}{self._counter}"
        if len(name) > 64:
            raise NetnsError(f"namespace name too long: {name}")
        return name

    def netns(self, kind: str = "ns") -> str:
        """Create a fresh, empty namespace (``lo`` brought up) and return its name."""
        name = self._name(kind)
        run(["ip", "netns", "add", name])
        self.created.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def node(self) -> Node:
        """Create a node namespace holding the veth pair ``eth0``/``uplink0`` (both up)."""
        name = self.netns("node")
        run(["ip", "-n", name, "link", "add", NODE_UPLINK, "type", "veth", "peer", "name",
             NODE_PEER])
        run(["ip", "-n", name, "link", "set", NODE_UPLINK, "up"])
        run(["ip", "-n", name, "link", "set", NODE_PEER, "up"])
        return Node(name)

    def pod(self) -> str:
        """Create a pod namespace; its ``CNI_NETNS`` is ``/run/netns/<name>``."""
        return self.netns("pod")

    def delete(self, name: str) -> None:
        """Delete one namespace we created (its links go with it)."""
        if name in self.created:
            self.created.remove(name)
        if (NETNS_DIR / name).exists():
            run(["ip", "netns", "del", name])

    def teardown(self) -> list[str]:
        """Delete every namespace we created, newest first. Returns error texts, if any."""
        errors: list[str] = []
        for name in reversed(list(self.created)):
            try:
                self.delete(name)
            except (NetnsError, OSError, subprocess.SubprocessError) as e:
                errors.append(f"{name}: {e}")
        # ``ip netns del`` unmounts asynchronously on some kernels; wait briefly so a
        # leftover check right after teardown sees the final state.
        deadline = time.monotonic() + 2.0
        while leftovers(self.prefix) and time.monotonic() < deadline:
            time.sleep(0.05)
        errors += [f"{n}: still present after teardown" for n in leftovers(self.prefix)]
        return errors


@contextmanager
def lab(prefix: str | None = None) -> Iterator[Lab]:
    """``with lab() as l: …`` — a :class:`Lab` torn down on exit, even on error."""
    the_lab = Lab(prefix or default_prefix())
    try:
        yield the_lab
    finally:
        errors = the_lab.teardown()
        if errors:
            raise NetnsError("teardown failed: " + "; ".join(errors))


@dataclass(frozen=True)
class CniRun:
    """One plugin execution: exit status, stdout parsed as JSON (or None), raw streams."""

    rc: int
    out: Any
    stdout: str
    stderr: str
    elapsed: float


def cni_env(
    command: str | None,
    *,
    containerid: str | None = None,
    netns: str | None = None,
    ifname: str | None = None,
    args: str | None = None,
    path: str | None = "/usr/lib/cni",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment a runtime gives a plugin; ``None`` leaves a variable out."""
    cni = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": containerid,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_ARGS": args,
        "CNI_PATH": path,
    }
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    env.update({k: v for k, v in cni.items() if v is not None})
    env.update(extra or {})
    return env


def cni_exec(
    plugin: str | Path,
    env: Mapping[str, str],
    stdin: bytes | str | Mapping[str, Any],
    *,
    node: str | None = None,
    timeout: float = 60.0,
) -> CniRun:
    """Execute a CNI plugin exactly as a runtime would, inside ``node`` when given.

    ``stdin`` may be a mapping (serialised as JSON), text or raw bytes (for malformed-input
    tests). stdout is parsed as JSON when it is JSON, else ``out`` is None.
    """
    if isinstance(stdin, Mapping):
        data = json.dumps(stdin).encode()
    elif isinstance(stdin, str):
        data = stdin.encode()
    else:
        data = stdin
    start = time.monotonic()
    proc = run([str(plugin)], netns=node, stdin=data, env=env, check=False, timeout=timeout)
    elapsed = time.monotonic() - start
    stdout = proc.stdout.decode(errors="replace")
    try:
        out = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        out = None
    return CniRun(proc.returncode, out, stdout, proc.stderr.decode(errors="replace"), elapsed)
