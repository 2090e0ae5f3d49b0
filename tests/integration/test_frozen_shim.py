"""The frozen ``multus-shim``: the thick plugin's node executable, as the image ships it.

``scripts/build-node-binary.sh --target multus-shim`` freezes the stdlib-only shim into a
PyInstaller ``--onedir`` tree (its own interpreter, so the node needs no Python). The build
is keyed on the shim's sources and reused while they are unchanged (a cold build takes
seconds: nothing but the stdlib goes in). These tests run that build with no Python on
``PATH``, against no daemon, against a real ``multusctl daemon`` on a tmp unix socket, and
installed onto a tmp host root by the thick DaemonSet's init container (its exact
``multusctl install`` command from the manifest): the frozen layout on a node without
python, the python launcher on a node whose /usr is this machine's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import multusctl
from multusctl.installer.install import SHIM_SOURCES, HostPaths, find_host_python

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-node-binary.sh"
THICK_MANIFEST = REPO / "deployments" / "multus-daemonset-thick-plugin.yml"
#: Where the image keeps the build (Dockerfile): the init container's --frozen-shim-dir.
IMAGE_SHIM_DIR = "/usr/src/multus-cni/frozen/multus-shim"
#: Where the DaemonSet mounts the host's directories (/host/opt/cni/bin, /host/usr).
HOST_MOUNT = "/host"
FAKES = REPO / "tests" / "fakes" / "plugins"
BIN = Path(sys.executable).parent
VENV_SHIM = BIN / "multus-shim"
MULTUSCTL = BIN / "multusctl"
SUPPORTED = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_UID=uid-a"
#: The stdlib-only shim is about 13 MB; grpc or OpenSSL sneaking in would pass 20 MB.
MAX_BYTES = 20 * 1024 * 1024
HAVE_HOST_PYTHON = find_host_python(HostPaths("/")) is not None


@pytest.fixture(scope="module")
def shim_dir() -> Path:
    """The onedir build for the current sources (built, or reused when the key matches)."""
    out = Path(os.environ.get("MULTUSCTL_FROZEN_OUT", REPO / "build" / "node"))
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--target", "multus-shim", "--out", str(out)],
        capture_output=True, text=True, timeout=850, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"{BUILD_SCRIPT} failed ({proc.returncode}):\n{proc.stderr[-3000:]}",
                    pytrace=False)
    exe = Path(proc.stdout.strip().splitlines()[-1])
    assert exe.name == "multus-shim"
    assert exe.parent == out / "multus-shim"
    return exe.parent


@dataclass(frozen=True)
class Run:
    rc: int
    stdout: str
    stderr: str

    @property
    def out(self) -> Any:
        return json.loads(self.stdout)

    def error(self) -> dict[str, Any]:
        """The CNI error this run printed (exit 1, one JSON document, no traceback)."""
        assert self.rc == 1, self
        assert "Traceback" not in self.stderr, self.stderr
        doc = self.out
        assert isinstance(doc, dict)
        return doc


def run(exe: Path, env: dict[str, str], stdin: bytes | str = b"{}",
        argv: tuple[str, ...] = ()) -> Run:
    """Run ``exe`` with exactly ``env`` (no PATH to any Python unless given)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run([str(exe), *argv], input=data, env=env, capture_output=True,
                          check=False, timeout=120)
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def cni_env(command: str, cid: str = "ctr-1", netns: str = "/proc/1/ns/net",
            **extra: str) -> dict[str, str]:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
           "CNI_IFNAME": "eth0", "CNI_PATH": str(FAKES), "CNI_ARGS": POD_ARGS,
           "PATH": "/nonexistent"}
    env.update(extra)
    return env


def shim_conf(tmp: Path, *delegates: dict[str, Any], version: str = "0.3.1") -> str:
    return json.dumps({
        "cniVersion": version, "name": "multus-cni-network", "type": "multus-shim",
        "daemonSocketDir": str(tmp / "run"), "cniDir": str(tmp / "cache"),
        "binDir": str(FAKES), "delegates": list(delegates),
    })


def fake(tmp: Path, name: str, **extra: Any) -> dict[str, Any]:
    return {"cniVersion": "0.3.1", "name": name, "type": "fakecni",
            "log": str(tmp / "calls.jsonl"), **extra}


# --------------------------------------------------------------------------- the build alone


def test_answers_version_without_any_python(shim_dir: Path) -> None:
    exe = shim_dir / "multus-shim"
    res = run(exe, {"CNI_COMMAND": "VERSION", "PATH": "/nonexistent"})
    assert res.rc == 0, res.stderr
    assert res.out == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}
    flag = run(exe, {"PATH": "/nonexistent"}, argv=("-version",))
    assert flag.rc == 0, flag.stderr
    assert flag.stdout.startswith(f"multus-shim: version:{multusctl.__version__}, ")
    # self-contained: its interpreter is inside the build, and nothing heavy came along
    internal = shim_dir / "_internal"
    assert any(p.name.startswith("libpython3") for p in internal.iterdir())
    size = sum(p.stat().st_size for p in shim_dir.rglob("*") if p.is_file())
    assert size < MAX_BYTES, f"{size} bytes"
    assert (shim_dir / ".build-key").read_text().strip()


def test_skel_errors_are_cni_error_json(shim_dir: Path, tmp_path: Path) -> None:
    exe = shim_dir / "multus-shim"
    env = cni_env("ADD")
    del env["CNI_NETNS"]
    err = run(exe, env, shim_conf(tmp_path)).error()
    assert (err["code"], err["msg"]) == (4, "required env variables [CNI_NETNS] missing")
    err = run(exe, cni_env("ADD"), b"{not json").error()
    assert err["code"] == 6
    assert err["msg"].startswith("error unmarshall network config")
    err = run(exe, cni_env("ADD"), shim_conf(tmp_path, version="9.9.9")).error()
    assert (err["code"], err["msg"]) == (1, "incompatible CNI versions")


def test_del_without_a_daemon_follows_the_cache(shim_dir: Path, tmp_path: Path) -> None:
    """No socket at all: DEL succeeds when nothing is cached, else asks for a retry (11)."""
    exe = shim_dir / "multus-shim"
    conf = shim_conf(tmp_path, fake(tmp_path, "net-a"))
    res = run(exe, cni_env("DEL"), conf)
    assert (res.rc, res.stdout) == (0, ""), res
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "ctr-1").write_text("[]")
    err = run(exe, cni_env("DEL"), conf).error()
    assert err["code"] == 11
    assert err["cniVersion"] == "0.3.1"
    assert err["msg"].startswith("CmdDel (shim): Daemon not reachable over socketfile")


# --------------------------------------------------------------------------- with a real daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Path]:
    """``multusctl daemon`` (non-auto mode) serving ``<tmp>/run/multus.sock``."""
    (tmp_path / "net.d").mkdir()
    user = tmp_path / "70-multus.conf"
    user.write_text("{}")
    conf = {"cniVersion": "0.3.1", "socketDir": str(tmp_path / "run"),
            "multusConfigFile": str(user), "cniConfigDir": str(tmp_path / "net.d"),
            "shutdownDelaySeconds": 0, "logFile": str(tmp_path / "daemon.log"),
            "logLevel": "debug"}
    (tmp_path / "daemon-config.json").write_text(json.dumps(conf))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    proc = subprocess.Popen([str(MULTUSCTL), "daemon", "--config",
                             str(tmp_path / "daemon-config.json")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = tmp_path / "run" / "multus.sock"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(sock):
            assert proc.poll() is None, _tail(tmp_path / "daemon.log")
            assert time.monotonic() < deadline, _tail(tmp_path / "daemon.log")
            time.sleep(0.1)
        yield sock
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(sock: Path) -> bool:
    from multusctl.daemon import lifecycle

    return sock.exists() and lifecycle.probe(str(sock)) == 200


def _tail(path: Path) -> str:
    return path.read_text()[-3000:] if path.exists() else "(no daemon log)"


def test_add_error_from_the_daemon_matches_the_venv_shim(
    shim_dir: Path, daemon: Path, tmp_path: Path
) -> None:
    """An ADD the daemon fails (no such netns) comes back as the daemon's CNI error, the
    same bytes as the console-script shim prints."""
    conf = shim_conf(tmp_path, fake(tmp_path, "net-a"))
    env = cni_env("ADD", netns=str(tmp_path / "no-such-netns"))
    frozen = run(shim_dir / "multus-shim", env, conf)
    err = frozen.error()
    assert err["msg"].startswith("CmdAdd (shim): Multus: [default/pod-a/uid-a]: "), err
    assert "validateIfName: no net namespace" in err["msg"], err
    assert err["cniVersion"] == "0.3.1"
    venv = run(VENV_SHIM, env, conf)
    assert (venv.rc, venv.stdout) == (frozen.rc, frozen.stdout)
    assert not (tmp_path / "calls.jsonl").exists()  # no delegate ran


@pytest.fixture
def netns() -> Iterator[str]:
    """A named, empty network namespace ``mct-shim-<id>`` (root only)."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (the daemon enters the pod's network namespace)",
                    pytrace=False)
    name = f"mct-shim-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.privileged
def test_add_del_through_a_real_daemon(
    shim_dir: Path, daemon: Path, tmp_path: Path, netns: str
) -> None:
    exe = shim_dir / "multus-shim"
    conf = shim_conf(tmp_path, fake(tmp_path, "net-a"))
    added = run(exe, cni_env("ADD", netns=netns), conf)
    assert added.rc == 0, f"{added}\n{_tail(tmp_path / 'daemon.log')}"
    result = added.out
    assert result["cniVersion"] == "0.3.1"
    assert [i["name"] for i in result["interfaces"]] == ["eth0"]
    assert (tmp_path / "cache" / "ctr-1").exists()
    # the console-script shim prints the same bytes for the same pod
    venv = run(VENV_SHIM, cni_env("ADD", cid="ctr-2", netns=netns), conf)
    assert venv.rc == 0, venv
    assert venv.stdout.replace("ctr-2", "ctr-1") == added.stdout
    removed = run(exe, cni_env("DEL", netns=netns), conf)
    assert (removed.rc, removed.stdout) == (0, ""), removed
    assert not (tmp_path / "cache" / "ctr-1").exists()
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c["command"] for c in calls if c["env"]["CNI_CONTAINERID"] == "ctr-1"] == [
        "ADD", "DEL"]


# --------------------------------------------------------------------------- onto the node


def _pod_spec() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(THICK_MANIFEST.read_text()) if isinstance(d, dict)]
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    return dict(ds["spec"]["template"]["spec"])


def _init_container() -> dict[str, Any]:
    (init,) = _pod_spec()["initContainers"]
    assert init["name"] == "install-multus-shim"
    return dict(init)


def _init_argv(host_root: Path, image_shim_dir: Path) -> list[str]:
    """The init container's exact command + args, with its three places moved: the host
    mount ``/host`` to ``host_root``, the image's frozen shim to ``image_shim_dir`` and
    ``multusctl`` (on the image's PATH) to this venv's."""
    init = _init_container()
    command = [str(c) for c in init["command"]]
    assert command[0] == "multusctl", command
    argv = [str(MULTUSCTL), *command[1:]]
    for arg in (str(a) for a in init.get("args") or []):
        name, sep, value = arg.partition("=")
        assert name.startswith("--"), f"not a --flag=value arg: {arg}"
        if value == IMAGE_SHIM_DIR:
            value = str(image_shim_dir)
        elif value == HOST_MOUNT or value.startswith(HOST_MOUNT + "/"):
            value = f"{host_root}{value.removeprefix(HOST_MOUNT)}"
        else:  # a container path this test does not map would escape the tmp dir
            assert not value.startswith("/"), f"unmapped container path in {arg}"
        argv.append(f"{name}{sep}{value}")
    return argv


def _init_mounts() -> dict[str, str]:
    """The init container's mount paths under /host -> the host paths they show."""
    volumes = {v["name"]: v for v in _pod_spec()["volumes"]}
    return {m["mountPath"]: volumes[m["name"]]["hostPath"]["path"]
            for m in _init_container()["volumeMounts"]}


def _run_init(host_root: Path, image_shim_dir: Path) -> str:
    proc = subprocess.run(_init_argv(host_root, image_shim_dir), capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def _trees(bin_dir: Path) -> set[str]:
    return {p.name for p in (bin_dir / "multusctl.d").iterdir() if p.is_dir()}


def _host_root(tmp_path: Path, usr: Path | None) -> Path:
    """A node as the init container sees it: the host's /opt/cni/bin (empty but for an
    older single-file shim, as upstream's Go one) and /usr (``usr``: a symlink standing in
    for the read-only mount; None: a /usr without python)."""
    assert set(_init_mounts().items()) == {(f"{HOST_MOUNT}/opt/cni/bin", "/opt/cni/bin"),
                                           (f"{HOST_MOUNT}/usr", "/usr")}
    root = tmp_path / "host"
    bin_dir = root / "opt" / "cni" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "multus-shim").write_text("#!/bin/sh\necho an older single-file shim\n")
    (bin_dir / "multus-shim").chmod(0o755)
    if usr is None:
        (root / "usr" / "bin").mkdir(parents=True)
    else:
        (root / "usr").symlink_to(usr)
    return root


def _version(link: Path) -> None:
    res = run(link, {"CNI_COMMAND": "VERSION", "PATH": "/nonexistent"})
    assert res.rc == 0, res
    assert res.out == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}


def test_daemonset_init_container_on_a_node_without_python_installs_the_frozen_shim(
    shim_dir: Path, tmp_path: Path
) -> None:
    root = _host_root(tmp_path, usr=None)
    bin_dir = root / "opt" / "cni" / "bin"
    link = bin_dir / "multus-shim"
    out = _run_init(root, shim_dir)
    assert f"note: {link} (frozen layout, self-contained)" in out, out
    target = os.readlink(link)
    assert re.fullmatch(r"multusctl\.d/shim-[0-9a-f]{16}/multus-shim", target), target
    first = target.split("/")[1]
    assert _trees(bin_dir) == {first}
    assert sorted(p.name for p in bin_dir.iterdir()) == ["multus-shim", "multusctl.d"]
    _version(link)
    res = run(link, cni_env("DEL"), shim_conf(tmp_path))
    assert (res.rc, res.stdout) == (0, ""), res  # no daemon, nothing cached: DEL succeeds
    record = json.loads((bin_dir / "multusctl.d" / "install.json").read_text())
    # recorded as the host sees it, not as the container does
    assert record["files"]["/opt/cni/bin/multus-shim"] == f"symlink:{target}"
    assert record["layout"] == "frozen"

    # a pod restart with the same image changes nothing
    tree_ino = (bin_dir / "multusctl.d" / first).stat().st_ino
    link_ino = os.lstat(link).st_ino
    assert _run_init(root, shim_dir).rstrip().endswith("install: nothing to do, already "
                                                       "installed")
    assert (os.lstat(link).st_ino, (bin_dir / "multusctl.d" / first).stat().st_ino) == (
        link_ino, tree_ino)

    # upgrades: the previous tree stays (shims started before the switch may still load
    # modules from it), the one before that goes
    previous = first
    for n in (1, 2):
        image = tmp_path / f"image-{n}"
        shutil.copytree(shim_dir, image, symlinks=True)
        (image / "_internal" / "upgrade-marker").write_text(f"image {n}\n")
        out = _run_init(root, image)
        current = os.readlink(link).split("/")[1]
        assert current not in (first, previous)
        assert f"note: {bin_dir / 'multusctl.d' / previous} (kept: " in out, out
        assert _trees(bin_dir) == {previous, current}
        assert (bin_dir / "multusctl.d" / current / "_internal" / "upgrade-marker").exists()
        _version(link)
        previous = current


def test_daemonset_init_container_replaces_the_old_init_scripts_install(
    shim_dir: Path, tmp_path: Path
) -> None:
    """A node upgraded from the manifest whose init container was a shell script: that
    script's ``multusctl.d/shim-<build key>/`` is the shim's previous tree (kept one run,
    though install.json does not know it), then goes."""
    root = _host_root(tmp_path, usr=None)
    bin_dir = root / "opt" / "cni" / "bin"
    link = bin_dir / "multus-shim"
    key = (shim_dir / ".build-key").read_text().strip()
    old = bin_dir / "multusctl.d" / f"shim-{key}"
    shutil.copytree(shim_dir, old, symlinks=True)
    link.unlink()
    link.symlink_to(f"multusctl.d/shim-{key}/multus-shim")
    out = _run_init(root, shim_dir)
    current = os.readlink(link).split("/")[1]
    assert current != old.name
    assert f"note: {old} (kept: " in out, out
    assert _trees(bin_dir) == {old.name, current}
    _version(link)
    out = _run_init(root, shim_dir)
    assert f"removed {old} (previous version)" in out, out
    assert _trees(bin_dir) == {current}


@pytest.mark.skipif(not HAVE_HOST_PYTHON, reason="this machine has no python3 >= 3.11 with "
                    "ssl and ctypes in /usr/bin (the frozen case above still runs)")
def test_daemonset_init_container_on_a_node_with_python_installs_the_launcher(
    shim_dir: Path, tmp_path: Path
) -> None:
    """The host's /usr is this machine's: ``--layout=auto`` finds its python3 on disk
    through the mount and writes the launcher, the faster shim (docs/node-install.md)."""
    root = _host_root(tmp_path, usr=Path("/usr"))
    bin_dir = root / "opt" / "cni" / "bin"
    link = bin_dir / "multus-shim"
    out = _run_init(root, shim_dir)
    assert f"note: {link} (python layout, host interpreter /usr/bin/python3 " in out, out
    assert not link.is_symlink()
    assert link.read_text().startswith("#!/usr/bin/python3 -IS\n")
    (tree,) = _trees(bin_dir)
    assert tree.startswith("python-")
    files = {str(p.relative_to(bin_dir / "multusctl.d" / tree))
             for p in (bin_dir / "multusctl.d" / tree).rglob("*.py")}
    assert files == set(SHIM_SOURCES)  # the shim's own imports, not the whole package
    _version(link)  # run by the host's (this machine's) python3
    res = run(link, cni_env("DEL"), shim_conf(tmp_path))
    assert (res.rc, res.stdout) == (0, ""), res
    record = json.loads((bin_dir / "multusctl.d" / "install.json").read_text())
    assert record["layout"] == "python"
    assert "/opt/cni/bin/multus-shim" in record["files"]
    assert _run_init(root, shim_dir).rstrip().endswith("install: nothing to do, already "
                                                       "installed")


def test_multusctl_install_shim_only_publishes_and_links_the_build(
    shim_dir: Path, tmp_path: Path
) -> None:
    """``multusctl install --shim-only --layout=frozen``: the other way onto a node (no
    DaemonSet), with the same staged tree and one-rename switch."""
    bin_dir = tmp_path / "opt-cni-bin"
    bin_dir.mkdir()
    argv = [str(MULTUSCTL), "install", "--shim-only", "--layout=frozen",
            f"--cni-bin-dir={bin_dir}", f"--frozen-shim-dir={shim_dir}"]

    def install(*extra: str) -> str:
        proc = subprocess.run([*argv, *extra], capture_output=True, text=True, check=False,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    install()
    link = bin_dir / "multus-shim"
    target = os.readlink(link)
    assert target.startswith("multusctl.d/shim-")
    assert sorted(p.name for p in bin_dir.iterdir()) == ["multus-shim", "multusctl.d"]
    res = run(link, {"CNI_COMMAND": "VERSION", "PATH": "/nonexistent"})
    assert res.rc == 0, res
    assert res.out == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}
    res = run(link, cni_env("DEL"), shim_conf(tmp_path))
    assert (res.rc, res.stdout) == (0, ""), res  # no daemon, nothing cached: DEL succeeds
    assert install().rstrip().endswith("install: nothing to do, already installed")
    install("--uninstall")
    assert list(bin_dir.iterdir()) == []
