"""``multusctl install`` in a temp host root: layouts, idempotence, dry run, uninstall.

The frozen layout is exercised with a stand-in onedir tree (an executable ``multus`` and
an ``_internal/`` directory): what install does with it does not depend on PyInstaller.
The real frozen build runs as the CNI plugin in tests/privileged/test_frozen_multus.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from multusctl.installer.install import HostPaths, find_host_python

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MULTUSCTL = Path(sys.executable).parent / "multusctl"
MASTER = '{"cniVersion": "0.3.1", "name": "cbr0", "type": "bridge", "bridge": "cni0"}\n'
HAVE_HOST_PYTHON = find_host_python(HostPaths("/")) is not None


class Host:
    """A temp host root with /opt/cni/bin, /etc/cni/net.d (holding a master) and a token."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "opt" / "cni" / "bin"
        self.conf = root / "etc" / "cni" / "net.d"
        self.bin.mkdir(parents=True)
        self.conf.mkdir(parents=True)
        (self.conf / "10-bridge.conf").write_text(MASTER)
        self.sa = root / "sa"
        self.sa.mkdir()
        (self.sa / "token").write_text("token-1\n")
        (self.sa / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
        self.frozen = root / "frozen" / "multus"
        (self.frozen / "_internal").mkdir(parents=True)
        exe = self.frozen / "multus"
        exe.write_text("#!/bin/sh\necho frozen-stand-in \"$CNI_COMMAND\"\n")
        exe.chmod(0o755)
        (self.frozen / "_internal" / "libpython3.11.so.1.0").write_bytes(b"\x7fELF stand-in")

    def args(self, *extra: str) -> list[str]:
        return [
            f"--cni-bin-dir={self.bin}", f"--cni-conf-dir={self.conf}",
            f"--frozen-dir={self.frozen}", f"--token-file={self.sa / 'token'}",
            f"--ca-file={self.sa / 'ca.crt'}", "--server-host=10.96.0.1",
            "--server-port=443", *extra,
        ]

    def run(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        proc = subprocess.run([str(MULTUSCTL), "install", *self.args(*extra)],
                              capture_output=True, text=True, timeout=120, env=env,
                              check=False)
        if check:
            assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
        return proc

    def tree(self) -> dict[str, str]:
        """Every path under the root -> content hash / link target / 'dir' (+ mode)."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                rel = str(p.relative_to(self.root))
                st = p.lstat()
                if p.is_symlink():
                    out[rel] = "-> " + os.readlink(p)
                elif p.is_dir():
                    out[rel] = f"dir {oct(st.st_mode & 0o7777)}"
                else:
                    out[rel] = f"{hash(p.read_bytes())} {oct(st.st_mode & 0o7777)} {st.st_ino}"
        return out


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path / "host")


def test_frozen_install_writes_symlink_tree_config_and_kubeconfig(host: Host) -> None:
    out = host.run("--layout=frozen").stdout
    assert "install: " in out
    assert "changed" in out
    entry = host.bin / "multus"
    assert entry.is_symlink()
    target = os.readlink(entry)
    assert target.startswith("multusctl.d/frozen-")
    assert target.endswith("/multus")
    assert (entry.resolve().parent / "_internal" / "libpython3.11.so.1.0").is_file()
    run = subprocess.run([str(entry)], env={"CNI_COMMAND": "VERSION"}, capture_output=True,
                         text=True, check=True)
    assert run.stdout == "frozen-stand-in VERSION\n"

    conf = json.loads((host.conf / "00-multus.conf").read_text())
    assert conf["delegates"][0]["name"] == "cbr0"
    # the kubeconfig path in the config is the installed one (host view)
    kubeconfig = host.conf / "multus.d" / "multus.kubeconfig"
    assert conf["kubeconfig"] == str(kubeconfig)
    assert (kubeconfig.stat().st_mode & 0o777) == 0o600
    text = kubeconfig.read_text()
    assert "server: https://10.96.0.1:443" in text
    assert "token-1" in text
    assert "certificate-authority-data:" in text
    assert ((host.conf / "00-multus.conf").stat().st_mode & 0o777) == 0o600


def test_second_install_changes_nothing_and_says_so(host: Host) -> None:
    host.run("--layout=frozen")
    before = host.tree()
    second = host.run("--layout=frozen")
    assert host.tree() == before  # same inodes: nothing rewritten
    assert second.stdout.rstrip().endswith("install: nothing to do, already installed")
    assert "wrote" not in second.stdout


def test_dry_run_touches_nothing(host: Host) -> None:
    before = host.tree()
    out = host.run("--layout=frozen", "--dry-run").stdout
    assert host.tree() == before
    assert "dry run: would write" in out
    assert f"would write {host.conf / '00-multus.conf'}" in out
    assert out.rstrip().endswith("would change")


def test_uninstall_removes_exactly_what_install_wrote(host: Host) -> None:
    before = host.tree()
    host.run("--layout=frozen")
    (host.conf / "99-other.conf").write_text(MASTER)  # not ours: must stay
    dry = host.run("--uninstall", "--dry-run").stdout
    assert "would remove" in dry
    assert (host.bin / "multus").is_symlink()
    out = host.run("--uninstall").stdout
    assert "removed" in out
    after = host.tree()
    after.pop("etc/cni/net.d/99-other.conf")
    assert after == before
    again = host.run("--uninstall").stdout
    assert "nothing to remove" in again


def test_reinstall_after_content_change_replaces_tree_atomically(host: Host) -> None:
    host.run("--layout=frozen")
    old_target = os.readlink(host.bin / "multus")
    (host.frozen / "multus").write_text("#!/bin/sh\necho frozen-v2\n")
    out = host.run("--layout=frozen").stdout
    new_target = os.readlink(host.bin / "multus")
    assert new_target != old_target
    assert f"removed {host.bin / old_target.rsplit('/', 1)[0]}" in out
    trees = sorted(p.name for p in (host.bin / "multusctl.d").iterdir() if p.is_dir())
    assert trees == [new_target.split("/")[1]]
    # no staging directory or temp file survives
    leftovers = [p.name for p in host.bin.rglob(".*") if p.name != ".complete"]
    assert leftovers == []


def test_master_change_regenerates_config(host: Host) -> None:
    host.run("--layout=frozen")
    (host.conf / "10-bridge.conf").write_text(MASTER.replace("cbr0", "cbr1"))
    out = host.run("--layout=frozen").stdout
    assert f"wrote {host.conf / '00-multus.conf'}" in out
    assert json.loads((host.conf / "00-multus.conf").read_text())["delegates"][0]["name"] == (
        "cbr1")


def test_skip_config_installs_only_the_plugin(host: Host) -> None:
    host.run("--layout=frozen", "--skip-config")
    assert (host.bin / "multus").is_symlink()
    assert sorted(p.name for p in host.conf.iterdir()) == ["10-bridge.conf"]


def test_host_root_writes_host_paths(host: Host) -> None:
    """In a container the host is mounted (here: the temp root); paths inside files are the
    host's: the kubeconfig path in the config and the install record."""
    host.run("--layout=frozen", f"--host-root={host.root}")
    conf = json.loads((host.conf / "00-multus.conf").read_text())
    assert conf["kubeconfig"] == "/etc/cni/net.d/multus.d/multus.kubeconfig"
    record = json.loads((host.bin / "multusctl.d" / "install.json").read_text())
    assert "/opt/cni/bin/multus" in record["files"]
    out = host.run("--uninstall", f"--host-root={host.root}").stdout
    assert f"removed {host.bin / 'multus'}" in out
    assert not (host.bin / "multus").exists()


def test_no_master_is_an_error(host: Host) -> None:
    (host.conf / "10-bridge.conf").unlink()
    proc = host.run("--layout=frozen", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: cannot find a master CNI config in")
    assert "Traceback" not in proc.stderr


def test_missing_frozen_build_and_no_python_is_an_error(host: Host, tmp_path: Path) -> None:
    proc = host.run("--layout=auto", f"--python={tmp_path / 'no-python'}",
                    f"--frozen-dir={tmp_path / 'nothing'}", check=False)
    assert proc.returncode == 1
    assert "no frozen build" in proc.stderr or "no suitable host python" in proc.stderr


def test_unknown_layout_is_an_error(host: Host) -> None:
    proc = host.run("--layout=zip", check=False)
    assert proc.returncode == 2
    assert "--layout must be one of auto, python, frozen" in proc.stderr


@pytest.mark.skipif(not HAVE_HOST_PYTHON, reason="this machine has no python3 >= 3.11 in "
                    "/usr/bin or /usr/local/bin")
def test_python_layout_launcher_runs_the_plugin(host: Host) -> None:
    out = host.run("--layout=python").stdout
    assert "python layout" in out
    entry = host.bin / "multus"
    text = entry.read_text()
    assert text.startswith("#!/")
    assert " -IS\n" in text.splitlines()[0] + "\n"
    tree = next((host.bin / "multusctl.d").glob("python-*"))
    assert (tree / "multusctl" / "bin" / "multus.py").is_file()
    assert list((tree / "multusctl" / "__pycache__").glob("*.pyc"))
    proc = subprocess.run([str(entry)], env={"CNI_COMMAND": "VERSION"}, input="{}",
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["cniVersion"] == "1.1.0"
    # idempotent too
    assert host.run("--layout=python").stdout.rstrip().endswith("already installed")
