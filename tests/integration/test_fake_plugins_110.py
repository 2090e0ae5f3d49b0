"""cniVersion 1.1.0 paths (ADD, DEL, CHECK, STATUS, GC) through fake plugin executables.

Debian's reference plugins stop at 1.0.0, so ``tests/fakes/plugins/fakecni`` stands in: it
records each call (command, CNI_* env, stdin) to the JSON-lines file named by its config's
``log`` key and answers from its config.

multus checks that ``CNI_NETNS`` is a network namespace it can enter (upstream's
validateIfName), so each test gets a real but empty one without root: a ``sleep`` in a new
user + network namespace (``unshare --user --map-root-user --net``). Root can enter it
directly; anyone else runs multus joined to that user namespace (``nsenter --user``).
Nothing is configured inside it and it dies with the sleeper.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

FAKES = Path(__file__).resolve().parents[1] / "fakes" / "plugins"
MULTUS = Path(os.environ.get("MULTUS_BIN") or Path(sys.executable).parent / "multus")
V = "1.1.0"
CID = "ctr-110"
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-b;K8S_POD_UID=uid-b"


@dataclass(frozen=True)
class Call:
    rc: int
    out: Any
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Sandbox:
    """An empty network namespace held by a sleeper process, and how to run inside it."""

    pid: int
    prefix: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/proc/{self.pid}/ns/net"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    proc = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--net", "--", "sleep", "3600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"cannot create a user+network namespace: {err}", pytrace=False)
            try:
                if os.readlink(f"/proc/{proc.pid}/ns/net") != mine:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the namespace sleeper did not start", pytrace=False)
            time.sleep(0.01)
        prefix: tuple[str, ...] = ()
        if os.geteuid() != 0:
            prefix = ("nsenter", f"--user=/proc/{proc.pid}/ns/user", "--preserve-credentials",
                      "--")
        yield Sandbox(proc.pid, prefix)
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


@dataclass
class Env:
    tmp: Path
    box: Sandbox

    @property
    def log(self) -> Path:
        return self.tmp / "calls.jsonl"

    @property
    def cni_dir(self) -> Path:
        return self.tmp / "cni"

    @property
    def netns(self) -> str:
        return self.box.path

    def fake(self, tag: str, **extra: Any) -> dict[str, Any]:
        """A plugin entry of type ``fakecni`` logging to the shared call log."""
        return {"type": "fakecni", "tag": tag, "log": str(self.log), **extra}

    def single(self, name: str, tag: str, **extra: Any) -> dict[str, Any]:
        return {"cniVersion": V, "name": name, **self.fake(tag, **extra)}

    def chain(self, name: str, *plugins: Mapping[str, Any]) -> dict[str, Any]:
        return {"cniVersion": V, "name": name, "plugins": [dict(p) for p in plugins]}

    def conf(self, *delegates: Mapping[str, Any], version: str = V) -> dict[str, Any]:
        return {
            "cniVersion": version, "name": "multus-cni-network", "type": "multus",
            "cniDir": str(self.cni_dir), "binDir": str(FAKES),
            "delegates": [dict(d) for d in delegates],
        }

    def run(
        self, command: str, conf: Mapping[str, Any], *, ifname: str | None = "eth0",
        containerid: str | None = CID, netns: str | None = None,
    ) -> Call:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command,
               "CNI_ARGS": POD_ARGS, "CNI_PATH": "/nonexistent-cni-path"}
        if containerid is not None:
            env["CNI_CONTAINERID"] = containerid
        if ifname is not None:
            env["CNI_IFNAME"] = ifname
        if command in {"ADD", "CHECK"} or netns is not None:
            env["CNI_NETNS"] = netns or self.netns
        proc = subprocess.run(
            [*self.box.prefix, str(MULTUS)], input=json.dumps(conf).encode(), env=env,
            capture_output=True, timeout=60, check=False,
        )
        stdout = proc.stdout.decode()
        stderr = proc.stderr.decode()
        assert "Traceback (most recent call last)" not in stderr, stderr
        out = json.loads(stdout) if stdout.strip() else None
        return Call(proc.returncode, out, stdout, stderr)

    def calls(self) -> list[dict[str, Any]]:
        """The recorded calls since the last :meth:`reset`."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def reset(self) -> None:
        self.log.unlink(missing_ok=True)

    def cache_files(self) -> list[str]:
        if not self.cni_dir.exists():
            return []
        return sorted(
            str(p.relative_to(self.cni_dir)) for p in self.cni_dir.rglob("*") if p.is_file()
        )


def summary(calls: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(command, plugin tag, CNI_IFNAME) of each call, in order."""
    return [(c["command"], c["stdin"].get("tag", ""), c["env"].get("CNI_IFNAME", ""))
            for c in calls]


@pytest.fixture
def e(tmp_path: Path, sandbox: Sandbox) -> Env:
    if not os.access(MULTUS, os.X_OK):
        pytest.fail(f"the multus executable is missing at {MULTUS}", pytrace=False)
    return Env(tmp_path, sandbox)


def two_delegates(e: Env, **extra_fail: Any) -> dict[str, Any]:
    """Master conflist ``cluster`` (fakes a, b) and a single-plugin delegate ``extra`` (c)."""
    return e.conf(
        e.chain("cluster", e.fake("a"), e.fake("b")),
        e.single("extra", "c", ip="10.10.0.7/24", **extra_fail),
    )


def test_add_and_del_at_110(e: Env) -> None:
    conf = two_delegates(e)
    added = e.run("ADD", conf)
    assert added.rc == 0, added.stdout + added.stderr
    assert added.out["cniVersion"] == V
    assert added.out["interfaces"][0]["name"] == "eth0"
    assert added.out["interfaces"][0]["sandbox"] == e.netns
    assert [ip["address"] for ip in added.out["ips"]] == ["10.9.0.5/24"]

    calls = e.calls()
    assert summary(calls) == [("ADD", "a", "eth0"), ("ADD", "b", "eth0"), ("ADD", "c", "net1")]
    for call in calls:
        # libcni injects the network's name and version into every plugin of a list.
        assert call["stdin"]["cniVersion"] == V
        assert call["env"]["CNI_CONTAINERID"] == CID
        assert call["env"]["CNI_NETNS"] == e.netns
        assert call["env"]["CNI_PATH"].split(":")[0] == str(FAKES)
        assert "K8S_POD_NAME=pod-b" in call["env"]["CNI_ARGS"]
    assert [c["stdin"]["name"] for c in calls] == ["cluster", "cluster", "extra"]
    assert "prevResult" not in calls[0]["stdin"]
    assert calls[1]["stdin"]["prevResult"]["ips"][0]["address"] == "10.9.0.5/24"
    assert "prevResult" not in calls[2]["stdin"]

    assert e.cache_files() == sorted(
        [CID, f"results/cluster-{CID}-eth0", f"results/extra-{CID}-net1"]
    )
    cached = json.loads((e.cni_dir / "results" / f"cluster-{CID}-eth0").read_text())
    assert cached["kind"] == "cniCacheV1"
    assert cached["containerId"] == CID
    assert cached["ifName"] == "eth0"
    assert cached["networkName"] == "cluster"
    assert cached["result"]["cniVersion"] == V

    e.reset()
    deleted = e.run("DEL", conf)
    assert deleted.rc == 0, deleted.stdout + deleted.stderr
    assert deleted.stdout == ""
    calls = e.calls()
    # Delegates in reverse, and a list's plugins in reverse too.
    assert summary(calls) == [("DEL", "c", "net1"), ("DEL", "b", "eth0"), ("DEL", "a", "eth0")]
    # libcni hands the cached ADD result to DEL as prevResult (>= 0.4.0).
    assert calls[1]["stdin"]["prevResult"]["cniVersion"] == V
    assert e.cache_files() == []

    # A second DEL succeeds. Without a cache, delegates mode DELs the config's delegates
    # again (docs/differences.md: upstream would call nothing and leak IPs, BUG-20).
    e.reset()
    again = e.run("DEL", conf)
    assert again.rc == 0, again.stdout
    assert summary(e.calls()) == [("DEL", "c", "net1"), ("DEL", "b", "eth0"), ("DEL", "a", "eth0")]
    assert e.cache_files() == []


def test_del_uses_the_cache_when_the_config_changed(e: Env) -> None:
    assert e.run("ADD", two_delegates(e)).rc == 0
    e.reset()
    other = e.conf(e.single("unrelated", "z"))
    deleted = e.run("DEL", other)
    assert deleted.rc == 0, deleted.stdout
    assert summary(e.calls()) == [
        ("DEL", "c", "net1"), ("DEL", "b", "eth0"), ("DEL", "a", "eth0")
    ]
    assert e.cache_files() == []


def test_failing_delegate_rolls_back_and_keeps_its_code(e: Env) -> None:
    conf = two_delegates(e, fail={"ADD": {"code": 11, "msg": "busy, come back later"}})
    added = e.run("ADD", conf)
    assert added.rc == 1
    assert added.out["code"] == 11
    assert 'error adding container to network "extra"' in added.out["msg"]
    assert "busy, come back later" in added.out["msg"]
    # Rollback: the failed delegate first, then the earlier ones in reverse.
    assert summary(e.calls()) == [
        ("ADD", "a", "eth0"), ("ADD", "b", "eth0"), ("ADD", "c", "net1"),
        ("DEL", "c", "net1"), ("DEL", "b", "eth0"), ("DEL", "a", "eth0"),
    ]
    assert [f for f in e.cache_files() if f.startswith("results/")] == []


def test_del_keeps_going_and_aggregates_errors(e: Env) -> None:
    conf = e.conf(
        e.single("first", "a"),
        e.single("second", "b", fail={"DEL": {"code": 11, "msg": "b cannot delete"}}),
        e.single("third", "c", fail={"DEL": {"code": 7, "msg": "c cannot delete"}}),
    )
    assert e.run("ADD", conf).rc == 0
    e.reset()
    deleted = e.run("DEL", conf)
    assert deleted.rc == 1
    assert "b cannot delete" in deleted.out["msg"]
    assert "c cannot delete" in deleted.out["msg"]
    assert summary(e.calls()) == [("DEL", "c", "net2"), ("DEL", "b", "net1"), ("DEL", "a", "eth0")]


def test_check_after_add(e: Env) -> None:
    conf = two_delegates(e)
    assert e.run("ADD", conf).rc == 0
    e.reset()
    checked = e.run("CHECK", conf)
    assert checked.rc == 0, checked.stdout + checked.stderr
    calls = e.calls()
    assert summary(calls) == [("CHECK", "a", "eth0"), ("CHECK", "b", "eth0"),
                              ("CHECK", "c", "net1")]
    assert all("prevResult" in c["stdin"] for c in calls)
    assert e.run("DEL", conf).rc == 0


def test_status_calls_every_plugin_of_the_master_list(e: Env) -> None:
    conf = two_delegates(e)
    res = e.run("STATUS", conf, ifname=None, containerid=None)
    assert res.rc == 0, res.stdout + res.stderr
    assert res.stdout == ""
    assert summary(e.calls()) == [("STATUS", "a", ""), ("STATUS", "b", "")]
    assert e.cache_files() == []


def test_status_error_is_reported(e: Env) -> None:
    conf = e.conf(e.chain(
        "cluster", e.fake("a", fail={"STATUS": {"code": 50, "msg": "not ready yet"}})
    ))
    res = e.run("STATUS", conf, ifname=None, containerid=None)
    assert res.rc == 1
    assert res.out["code"] == 50
    assert "not ready yet" in res.out["msg"]


def test_status_below_110_is_refused(e: Env) -> None:
    conf = two_delegates(e)
    conf["cniVersion"] = "1.0.0"
    res = e.run("STATUS", conf, ifname=None, containerid=None)
    assert res.rc == 1
    assert res.out["code"] == 1
    assert "config version does not allow STATUS" in res.out["msg"]
    assert e.calls() == []


def test_gc_keeps_valid_attachments(e: Env) -> None:
    conf = two_delegates(e)
    assert e.run("ADD", conf).rc == 0
    e.reset()
    valid = [{"containerID": CID, "ifname": "eth0"}, {"containerID": CID, "ifname": "net1"}]
    res = e.run("GC", {**conf, "cni.dev/valid-attachments": valid}, ifname=None,
                containerid=None)
    assert res.rc == 0, res.stdout + res.stderr
    calls = e.calls()
    # Our attachment is valid, so nothing is DELeted; each plugin of the list gets GC.
    assert summary(calls) == [("GC", "a", ""), ("GC", "b", "")]
    assert calls[0]["stdin"]["cni.dev/valid-attachments"] == valid
    assert calls[0]["stdin"]["name"] == "cluster"
    assert e.cache_files() == sorted(
        [CID, f"results/cluster-{CID}-eth0", f"results/extra-{CID}-net1"]
    )
    assert e.run("DEL", conf).rc == 0
    assert e.cache_files() == []


def test_gc_deletes_stale_attachments_of_the_master(e: Env) -> None:
    """The runtime's valid-attachments decide (docs/differences.md; upstream: BUG-19)."""
    conf = two_delegates(e)
    assert e.run("ADD", conf).rc == 0
    e.reset()
    res = e.run("GC", {**conf, "cni.dev/valid-attachments": []}, ifname=None,
                containerid=None)
    assert res.rc == 0, res.stdout + res.stderr
    calls = e.calls()
    assert summary(calls) == [
        ("DEL", "b", "eth0"), ("DEL", "a", "eth0"), ("GC", "a", ""), ("GC", "b", "")
    ]
    assert calls[0]["env"]["CNI_CONTAINERID"] == CID
    assert calls[2]["stdin"]["cni.dev/valid-attachments"] == []
    # Only the master network is collected; the other delegate's cache stays.
    assert f"results/cluster-{CID}-eth0" not in e.cache_files()
    assert f"results/extra-{CID}-net1" in e.cache_files()
    assert e.run("DEL", conf).rc == 0
