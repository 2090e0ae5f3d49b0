"""The thick plugin without a cluster: ``multus-shim`` subprocesses talking to the daemon.

The daemon runs in-process (``multusctl.daemon.lifecycle.run`` in a thread) on a unix
socket in a tmp dir, with delegates-mode configs and the fake plugin
``tests/fakes/plugins/fakecni``; start-up and exit statuses are also checked through the
real ``multusctl daemon`` command. ADD needs a network namespace the daemon can enter
(validateIfName), so those tests hold one with ``unshare --net`` and need root.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from multusctl.daemon import config as daemon_config
from multusctl.daemon import lifecycle
from multusctl.logs import Logger

pytestmark = pytest.mark.integration

FAKES = Path(__file__).resolve().parents[1] / "fakes" / "plugins"
BIN = Path(sys.executable).parent
SHIM = BIN / "multus-shim"
MULTUS = BIN / "multus"
MULTUSCTL = BIN / "multusctl"
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_UID=uid-a"

#: ADD enters the pod netns from the daemon (in this process): that needs root.
needs_root = pytest.mark.privileged


# --------------------------------------------------------------------------- helpers


def http(sock: Path, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str],
                                                                          bytes]:
    """One HTTP/1.1 request over the unix socket, read to EOF."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(sock))
    s.sendall(
        f"{method} {path} HTTP/1.1\r\nHost: dummy\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, payload


@dataclass
class Daemon:
    """A daemon running in a thread of the test process."""

    tmp: Path
    conf: daemon_config.DaemonConfig
    rt: lifecycle.Runtime
    thread: threading.Thread
    result: list[int] = field(default_factory=list)

    @property
    def sock(self) -> Path:
        return Path(self.conf.socket_path)

    def stop(self) -> int:
        self.rt.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.result[0]


@dataclass
class World:
    tmp: Path
    netns: str
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.tmp / "calls.jsonl"

    @property
    def run_dir(self) -> Path:
        return self.tmp / "run" / "multus"

    @property
    def cni_dir(self) -> Path:
        return self.tmp / "cache"

    def daemon_conf(self, **extra: Any) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "cniVersion": "0.3.1",
            "socketDir": str(self.run_dir),
            "multusConfigFile": str(self.tmp / "user" / "70-multus.conf"),
            "cniConfigDir": str(self.tmp / "net.d"),
            "shutdownDelaySeconds": 0,
            "logLevel": "debug",
        }
        conf.update(extra)
        return conf

    def start(self, **extra: Any) -> Daemon:
        (self.tmp / "net.d").mkdir(exist_ok=True)
        (self.tmp / "user").mkdir(exist_ok=True)
        (self.tmp / "user" / "70-multus.conf").write_text("{}")
        conf = daemon_config.load(json.dumps(self.daemon_conf(**extra)).encode())
        log = Logger(log_to_stderr=False, log_file=str(self.tmp / "daemon.log"))
        log.set_level("debug")
        rt = lifecycle.Runtime(environ={}, log=log)
        holder: list[int] = []
        thread = threading.Thread(target=lambda: holder.append(lifecycle.run(conf, rt)))
        thread.start()
        d = Daemon(self.tmp, conf, rt, thread, holder)
        deadline = time.monotonic() + 30
        while lifecycle.probe(str(d.sock)) != 200:
            assert thread.is_alive(), (self.tmp / "daemon.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        self.daemons.append(d)
        return d

    def fake(self, name: str, **extra: Any) -> dict[str, Any]:
        return {"cniVersion": "0.3.1", "name": name, "type": "fakecni", "log": str(self.log),
                **extra}

    def shim_conf(self, *delegates: Mapping[str, Any], version: str = "0.3.1",
                  **extra: Any) -> dict[str, Any]:
        return {
            "cniVersion": version, "name": "multus-cni-network", "type": "multus-shim",
            "daemonSocketDir": str(self.run_dir), "cniDir": str(self.cni_dir),
            "binDir": str(FAKES), "delegates": [dict(d) for d in delegates], **extra,
        }

    def env(self, command: str, cid: str = "ctr-1", **extra: str) -> dict[str, str]:
        env = {
            "CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": self.netns,
            "CNI_IFNAME": "eth0", "CNI_PATH": str(FAKES), "CNI_ARGS": POD_ARGS,
            "PATH": os.environ.get("PATH", ""),
        }
        env.update(extra)
        return env

    def shim(self, command: str, conf: Mapping[str, Any], cid: str = "ctr-1",
             exe: Path = SHIM, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe)], input=json.dumps(conf), text=True,
                              env=self.env(command, cid, **extra), capture_output=True,
                              check=False, timeout=90)

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "3600"]) if (
        os.geteuid() == 0) else subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--net", "--", "sleep", "3600"])
    try:
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{proc.pid}/ns/net") == mine:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        w = World(tmp_path, f"/proc/{proc.pid}/ns/net")
        yield w
        for d in w.daemons:
            if d.thread.is_alive():
                d.stop()
    finally:
        proc.kill()
        proc.wait()


def error_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict)
    return doc


# --------------------------------------------------------------------------- endpoints


def test_endpoints_and_status_codes(world: World) -> None:
    d = world.start()
    assert http(d.sock, "GET", "/healthz")[0] == 200
    assert http(d.sock, "POST", "/healthz")[0] == 200
    assert http(d.sock, "PUT", "/healthz")[0] == 405
    assert http(d.sock, "GET", "/readyz")[0] == 200
    assert http(d.sock, "DELETE", "/readyz")[0] == 405
    status, _, body = http(d.sock, "GET", "/cni")
    assert (status, body) == (405, b"Method not allowed\n")
    status, _, body = http(d.sock, "GET", "/delegate")
    assert (status, body) == (405, b"Method not allowed\n")
    status, _, body = http(d.sock, "GET", "/foo")
    assert (status, body) == (404, b"")


def test_socket_modes_and_stale_socket(world: World) -> None:
    d = world.start()
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(world.run_dir).st_mode) == 0o700
    marker = world.run_dir / "keep-me"
    marker.write_text("x")
    assert d.stop() == 0
    assert not d.sock.exists()  # graceful shutdown removes the socket
    # a stale socket file (nobody listening) is replaced; the directory is not wiped (BUG-13)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(d.sock))
    stale.close()
    d2 = world.start()
    assert http(d2.sock, "GET", "/healthz")[0] == 200
    assert marker.read_text() == "x"


def test_socket_path_that_is_not_a_socket_exits_3(world: World) -> None:
    world.run_dir.mkdir(parents=True)
    (world.run_dir / "multus.sock").write_text("not a socket")
    conf = daemon_config.load(json.dumps(world.daemon_conf()).encode())
    log = Logger(log_to_stderr=False, log_file=str(world.tmp / "d.log"))
    assert lifecycle.run(conf, lifecycle.Runtime(environ={}, log=log)) == 3
    assert "exists and is not a socket" in (world.tmp / "d.log").read_text()
    assert (world.run_dir / "multus.sock").read_text() == "not a socket"


def test_request_decoding_errors_are_plain_text(world: World) -> None:
    d = world.start()
    env = world.env("ADD")
    del env["CNI_NETNS"]
    body = json.dumps({"env": env, "config": base64.b64encode(b"{}").decode()}).encode()
    status, headers, payload = http(d.sock, "POST", "/cni", body)
    assert status == 400
    assert headers["content-type"].startswith("text/plain")
    assert payload == b"could not extract the CNI command args: missing CNI_NETNS\n"
    env = world.env("ADD", CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=x")
    body = json.dumps({"env": env, "config": base64.b64encode(b"{}").decode()}).encode()
    assert http(d.sock, "POST", "/cni", body)[2] == (
        b"could not extract the kubernetes runtime args: missing K8S_POD_NAMESPACE\n"
    )
    env = world.env("FOO")
    body = json.dumps({"env": env, "config": ""}).encode()
    assert http(d.sock, "POST", "/cni", body)[2] == b"unknown cmd type: FOO\n"


# --------------------------------------------------------------------------- CNI through the shim


@needs_root
def test_add_del_through_shim_matches_thin_plugin(world: World) -> None:
    world.start()
    conf = world.shim_conf(world.fake("net-a"))
    added = world.shim("ADD", conf)
    assert added.returncode == 0, added
    # the thin plugin with the same delegates prints the same bytes
    thin_conf = {**conf, "type": "multus", "cniDir": str(world.tmp / "thin-cache")}
    thin = world.shim("ADD", thin_conf, cid="ctr-thin", exe=MULTUS)
    assert thin.returncode == 0, thin
    thick_doc = json.loads(added.stdout.replace("ctr-1", "X"))
    thin_doc = json.loads(thin.stdout.replace("ctr-thin", "X"))
    # fakecni's 0.3.1 result has no ip "version": thin prints the delegate's result as is,
    # thick goes through 1.0.0 (the wire format), which fills it in, exactly as upstream
    assert thin_doc["ips"][0].pop("version") == ""
    assert thick_doc["ips"][0].pop("version") == "4"
    assert thick_doc == thin_doc
    assert thick_doc["cniVersion"] == "0.3.1"
    assert (world.cni_dir / "ctr-1").exists()
    removed = world.shim("DEL", conf)
    assert (removed.returncode, removed.stdout) == (0, ""), removed
    assert not (world.cni_dir / "ctr-1").exists()
    commands = [c["command"] for c in world.calls() if c["env"]["CNI_CONTAINERID"] == "ctr-1"]
    assert commands == ["ADD", "DEL"]


@needs_root
@pytest.mark.parametrize("version", ["0.4.0", "1.0.0", "1.1.0"])
def test_add_result_in_the_shim_config_version(world: World, version: str) -> None:
    world.start()
    conf = world.shim_conf(world.fake("net-a", cniVersion="1.0.0"), version=version)
    added = world.shim("ADD", conf)
    assert added.returncode == 0, added
    assert json.loads(added.stdout)["cniVersion"] == version


@needs_root
def test_extra_cni_args_and_equals_reach_the_delegate(world: World) -> None:
    world.start()
    conf = world.shim_conf(world.fake("net-a"))
    added = world.shim("ADD", conf, CNI_ARGS=POD_ARGS + ";CUSTOM=yes")
    assert added.returncode == 0, added
    call = world.calls()[-1]
    assert "CUSTOM=yes" in call["env"]["CNI_ARGS"].split(";")


@needs_root
def test_delegate_error_keeps_its_code(world: World) -> None:
    world.start()
    conf = world.shim_conf(world.fake("net-a", fail={"ADD": {"code": 11, "msg": "busy"}}))
    err = error_of(world.shim("ADD", conf))
    assert err["code"] == 11
    assert err["msg"].startswith("CmdAdd (shim): ")
    assert "busy" in err["msg"]
    assert err["cniVersion"] == "0.3.1"


@needs_root
def test_del_failure_is_reported(world: World) -> None:
    world.start()
    ok = world.shim_conf(world.fake("net-a"))
    assert world.shim("ADD", ok).returncode == 0
    failing = world.shim_conf(world.fake("net-a", fail={"DEL": {"code": 7, "msg": "nope"}}))
    (world.cni_dir / "ctr-1").unlink()  # no cache: the DEL uses the config's delegates
    err = error_of(world.shim("DEL", failing))
    assert err["msg"].startswith("CmdDel (shim): ")
    assert "nope" in err["msg"]


def test_del_with_daemon_gone(world: World) -> None:
    conf = world.shim_conf(world.fake("net-a"))
    # nothing cached for the container: nothing of ours is attached, DEL succeeds
    proc = world.shim("DEL", conf)
    assert (proc.returncode, proc.stdout) == (0, ""), proc
    # a cache entry means delegates are still attached: the runtime must retry later
    world.cni_dir.mkdir()
    (world.cni_dir / "ctr-1").write_text("[]")
    err = error_of(world.shim("DEL", conf))
    assert err["code"] == 11
    assert err["msg"].startswith("CmdDel (shim): Daemon not reachable over socketfile")


@needs_root
def test_daemon_config_overrides_the_request(world: World) -> None:
    other = world.tmp / "daemon-cache"
    world.start(cniDir=str(other))
    conf = world.shim_conf(world.fake("net-a"))
    assert world.shim("ADD", conf).returncode == 0
    assert (other / "ctr-1").exists()
    assert not (world.cni_dir / "ctr-1").exists()


def _mini_root(root: Path) -> None:
    """A chroot with /bin/sh, its shared libraries and a ``/marker`` file."""
    sh = Path(os.path.realpath("/bin/sh"))
    ldd = subprocess.run(["ldd", str(sh)], capture_output=True, text=True, check=True).stdout
    files = [sh]
    for line in ldd.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            files.append(Path(path))
    for f in files:
        target = root / f.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(f), target)
    (root / "bin").mkdir(exist_ok=True)
    if not (root / "bin" / "sh").exists():
        shutil.copy2(sh, root / "bin" / "sh")
    (root / "marker").write_text("inside-the-chroot")


@needs_root
def test_chroot_dir_runs_the_delegates_chrooted(world: World) -> None:
    """THK-17 end to end: daemon config → core Request → executor → chrooted exec."""
    root = world.tmp / "hostroot"
    _mini_root(root)
    bindir = world.tmp / "chrootbin"
    bindir.mkdir()
    plugin = bindir / "markercni"
    plugin.write_text(
        "#!/bin/sh\nread -r _stdin\nread -r m < /marker\n"
        'echo "{\\"cniVersion\\": \\"0.3.1\\", \\"dns\\": {\\"domain\\": \\"$m\\"}}"\n'
    )
    plugin.chmod(0o755)
    # found in the daemon's filesystem, executed at the same path inside the chroot
    shutil.copytree(bindir, root / bindir.relative_to("/"))
    world.start(chrootDir=str(root))
    conf = world.shim_conf({"cniVersion": "0.3.1", "name": "net-c", "type": "markercni"},
                           binDir=str(bindir))
    added = world.shim("ADD", conf)
    assert added.returncode == 0, added
    assert json.loads(added.stdout)["dns"] == {"domain": "inside-the-chroot"}
    removed = world.shim("DEL", conf)
    assert removed.returncode == 0, removed


@needs_root
def test_upstream_wire_format(world: World) -> None:
    """What upstream's Go shim sends and expects: base64 config, capital ``Result``."""
    d = world.start()
    conf = json.dumps(world.shim_conf(world.fake("net-a"))).encode()
    body = json.dumps({"env": world.env("ADD"), "config": base64.b64encode(conf).decode()})
    status, headers, payload = http(d.sock, "POST", "/cni", body.encode())
    assert status == 200, payload
    assert headers["content-type"] == "application/json"
    doc = json.loads(payload)
    assert doc["Result"]["cniVersion"] == "1.0.0"
    assert doc["Result"]["ips"][0]["address"] == "10.9.0.5/24"
    env = world.env("DEL")
    body = json.dumps({"env": env, "config": base64.b64encode(conf).decode()})
    assert http(d.sock, "POST", "/cni", body.encode())[:1] == (200,)


@needs_root
def test_concurrent_adds_wait_for_a_slot(world: World) -> None:
    d = world.start(maxConcurrentRequests=2)
    conf = world.shim_conf(world.fake("net-a"))
    with ThreadPoolExecutor(max_workers=12) as pool:
        procs = list(pool.map(lambda i: world.shim("ADD", conf, cid=f"ctr-{i}"), range(12)))
    assert [p.returncode for p in procs] == [0] * 12, [p.stdout for p in procs if p.returncode]
    with ThreadPoolExecutor(max_workers=12) as pool:
        procs = list(pool.map(lambda i: world.shim("DEL", conf, cid=f"ctr-{i}"), range(12)))
    assert [p.returncode for p in procs] == [0] * 12
    assert sorted(p.name for p in world.cni_dir.iterdir()) == ["results"]
    assert list((world.cni_dir / "results").iterdir()) == []
    assert d.rt.service is not None
    assert d.rt.service.in_flight == 0
    assert d.rt.service.served == 24


@needs_root
def test_graceful_shutdown_finishes_in_flight_requests(world: World) -> None:
    slow = world.tmp / "slowbin"
    slow.mkdir()
    plugin = slow / "slowcni"
    plugin.write_text(
        "#!/bin/sh\nsleep 1.5\nexec " + str(FAKES / "fakecni") + "\n"
    )
    plugin.chmod(0o755)
    d = world.start()
    conf = world.shim_conf({**world.fake("net-a"), "type": "slowcni"}, binDir=str(slow))
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(world.shim, "ADD", conf)
        deadline = time.monotonic() + 20
        while not d.rt.service or d.rt.service.in_flight == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        d.rt.stop.set()
        proc = future.result()
    assert proc.returncode == 0, proc
    assert d.stop() == 0
    assert not d.sock.exists()


def test_shutdown_turns_readyz_false_and_keeps_the_config(world: World) -> None:
    d = world.start(shutdownDelaySeconds=2)
    (world.tmp / "net.d" / "00-multus.conf").write_text("{}")  # as the manager would
    d.rt.stop.set()
    deadline = time.monotonic() + 5
    while http(d.sock, "GET", "/readyz")[0] != 500:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert http(d.sock, "GET", "/healthz")[0] == 200
    d.thread.join(30)
    assert (world.tmp / "net.d" / "00-multus.conf").exists()  # BUG-11


def test_non_auto_mode_copies_the_file_and_keeps_serving(world: World) -> None:
    d = world.start()
    assert (world.tmp / "net.d" / "70-multus.conf").read_text() == "{}"
    time.sleep(0.5)
    assert d.thread.is_alive()  # BUG-10: upstream exits here
    assert http(d.sock, "GET", "/healthz")[0] == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> str:
    import urllib.request

    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return str(r.read().decode())
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_metrics(world: World) -> None:
    port = _free_port()
    d = world.start(metricsPort=port)
    http(d.sock, "GET", "/healthz")
    http(d.sock, "GET", "/cni")
    text = scrape(port)
    assert 'multus_server_request_total{code="405",handler="/cni",method="get"} 1.0' in text
    assert 'handler="/healthz"' in text
    assert "process_resident_memory_bytes" in text


@needs_root
def test_metrics_time_each_delegate_plugin_by_type(world: World) -> None:
    """``multus_delegate_duration_seconds``: one sample per plugin run, a chain per plugin."""
    bindir = world.tmp / "bin"
    bindir.mkdir()
    for name in ("fakecni", "chainhead", "chaintail"):
        shutil.copy2(FAKES / "fakecni", bindir / name)
    port = _free_port()
    world.start(metricsPort=port)
    chain = {"cniVersion": "0.4.0", "name": "net-chain", "plugins": [
        {"type": "chainhead", "log": str(world.log)}, {"type": "chaintail"}]}
    conf = world.shim_conf(world.fake("net-a"), chain, binDir=str(bindir))
    added = world.shim("ADD", conf)
    assert added.returncode == 0, added
    failing = world.shim_conf(world.fake("net-b", fail={"ADD": {"code": 7, "msg": "no"}}),
                              binDir=str(bindir))
    assert world.shim("ADD", failing, cid="ctr-2").returncode == 1
    text = scrape(port)

    def count(plugin_type: str, command: str, outcome: str) -> str:
        return ("multus_delegate_duration_seconds_count{"
                f'command="{command}",outcome="{outcome}",type="{plugin_type}"}} 1.0')

    assert count("fakecni", "ADD", "ok") in text
    assert count("chainhead", "ADD", "ok") in text
    assert count("chaintail", "ADD", "ok") in text
    assert count("fakecni", "ADD", "error") in text
    assert 'multus_cni_command_duration_seconds_count{command="ADD",outcome="ok"} 1.0' in text
    assert 'multus_cni_command_duration_seconds_count{command="ADD",outcome="error"} 1.0' in text
    # a histogram, with the daemon's latency buckets
    assert ('multus_delegate_duration_seconds_bucket{command="ADD",le="120.0",outcome="ok",'
            'type="chaintail"} 1.0') in text


# --------------------------------------------------------------------------- the CLI


def _cli(tmp: Path, conf: Mapping[str, Any], *args: str,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    path = tmp / "daemon-config.json"
    path.write_text(json.dumps(conf))
    return subprocess.run([str(MULTUSCTL), "daemon", "--config", str(path), *args],
                          capture_output=True, text=True, check=False, timeout=timeout)


def test_cli_version_exits_4(tmp_path: Path) -> None:
    proc = _cli(tmp_path, {}, "--version")
    assert proc.returncode == 4
    assert proc.stdout.startswith("multus-daemon: version:")


def test_cli_bad_config_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{")
    proc = subprocess.run([str(MULTUSCTL), "daemon", "--config", str(tmp_path / "bad.json")],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 1
    assert "failed to unmarshall the daemon configuration" in proc.stderr


def test_cli_connection_limit_zero_exits_3(tmp_path: Path) -> None:
    proc = _cli(tmp_path, {"connectionLimit": 0, "socketDir": str(tmp_path / "run"),
                           "multusConfigFile": str(tmp_path / "x.conf"),
                           "cniConfigDir": str(tmp_path), "logToStderr": True})
    assert proc.returncode == 3
    assert "connection limit must be greater than 0, got 0" in proc.stderr


def test_cli_auto_mode_writes_shim_config_and_sigterm_exits_0(tmp_path: Path) -> None:
    netd = tmp_path / "net.d"
    netd.mkdir()
    (netd / "10-fake.conf").write_text(
        json.dumps({"cniVersion": "0.3.1", "name": "fakenet", "type": "fakecni"})
    )
    conf = {"cniVersion": "0.3.1", "socketDir": str(tmp_path / "run"),
            "cniConfigDir": str(netd), "multusAutoconfigDir": str(netd),
            "shutdownDelaySeconds": 0}
    (tmp_path / "daemon-config.json").write_text(json.dumps(conf))
    proc = subprocess.Popen([str(MULTUSCTL), "daemon", "--config",
                             str(tmp_path / "daemon-config.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        target = netd / "00-multus.conf"
        deadline = time.monotonic() + 60
        while not target.exists():
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.1)
        written = json.loads(target.read_text())
        assert written["type"] == "multus-shim"
        assert written["delegates"][0]["name"] == "fakenet"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert target.exists()  # kept across a restart (BUG-11)
    assert not (tmp_path / "run" / "multus.sock").exists()
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


def test_shim_imports_only_the_standard_library() -> None:
    repo = Path(__file__).resolve().parents[2]
    code = (
        f"import sys; sys.path.insert(0, {str(repo)!r}); import multusctl.bin.shim as s; "
        "import os; os.environ.pop('CNI_COMMAND', None); "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    ours = [m for m in out if m.startswith("multusctl")]
    assert ours == ["multusctl", "multusctl.bin", "multusctl.bin.shim"], ours
    heavy = {"http", "urllib", "ssl", "email", "kubernetes", "yaml", "typer", "rich"}
    assert not {m.split(".")[0] for m in out} & heavy
