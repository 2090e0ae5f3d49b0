"""``multusctl install`` in a temp host root: layouts, idempotence, dry run, uninstall.

The frozen layout is exercised with stand-in onedir trees (an executable ``multus`` or
``multus-shim`` and an ``_internal/`` directory): what install does with them does not
depend on PyInstaller. The real frozen builds run in tests/privileged/test_frozen_multus.py
and (installed by ``multusctl install --shim-only``) tests/integration/test_frozen_shim.py.
"""

from __future__ import annotations

import hashlib
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
        self.frozen_shim = root / "frozen" / "multus-shim"
        (self.frozen_shim / "_internal").mkdir(parents=True)
        self.set_frozen_shim("frozen-shim-stand-in")
        (self.frozen_shim / "_internal" / "base_library.zip").write_bytes(b"PK stand-in")

    def set_frozen_shim(self, answer: str) -> None:
        exe = self.frozen_shim / "multus-shim"
        exe.write_text(f"#!/bin/sh\necho {answer} \"$CNI_COMMAND\"\n")
        exe.chmod(0o755)

    def args(self, *extra: str) -> list[str]:
        return [
            f"--cni-bin-dir={self.bin}", f"--cni-conf-dir={self.conf}",
            f"--frozen-dir={self.frozen}", f"--frozen-shim-dir={self.frozen_shim}",
            f"--token-file={self.sa / 'token'}",
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


# --------------------------------------------------------------------------- multus-shim


def record(host: Host) -> dict[str, str]:
    doc = json.loads((host.bin / "multusctl.d" / "install.json").read_text())
    files: dict[str, str] = doc["files"]
    return files


def trees(host: Host) -> list[str]:
    return sorted(p.name for p in (host.bin / "multusctl.d").iterdir() if p.is_dir())


def version(entry: Path) -> dict[str, object]:
    """``CNI_COMMAND=VERSION`` through an installed entry point, with an empty environment
    (as a runtime that passes nothing else would)."""
    proc = subprocess.run([str(entry)], env={"CNI_COMMAND": "VERSION"}, input="{}",
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


SUPPORTED = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
needs_host_python = pytest.mark.skipif(
    not HAVE_HOST_PYTHON, reason="this machine has no python3 >= 3.11 in /usr/bin or "
    "/usr/local/bin")


@needs_host_python
def test_python_layout_with_shim_adds_a_second_launcher_on_the_same_tree(host: Host) -> None:
    before = host.tree()
    out = host.run("--layout=python", "--with-shim", "--skip-config").stdout
    assert f"wrote {host.bin / 'multus-shim'} (launcher)" in out
    (tree,) = trees(host)
    assert tree.startswith("python-")
    shim = host.bin / "multus-shim"
    text = shim.read_text()
    assert text.splitlines()[0].endswith(" -IS")
    assert "from multusctl.bin.shim import main\n" in text
    assert repr(tree) in text  # the tree the thin launcher imports from, too
    assert repr(tree) in (host.bin / "multus").read_text()
    assert version(shim) == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}
    flag = subprocess.run([str(shim), "-version"], env={}, capture_output=True, text=True,
                          check=True)
    assert flag.stdout.startswith("multus-shim: version:")
    assert "unknown\n" not in flag.stdout  # the version came from the installed package
    assert version(host.bin / "multus")["cniVersion"] == "1.1.0"
    files = record(host)
    assert files[str(shim)] == hashlib.sha256(shim.read_bytes()).hexdigest()
    assert f"{host.bin / 'multusctl.d' / tree}/" in files

    after = host.tree()
    second = host.run("--layout=python", "--with-shim", "--skip-config").stdout
    assert second.rstrip().endswith("install: nothing to do, already installed")
    assert host.tree() == after

    out = host.run("--uninstall").stdout
    assert f"removed {shim}" in out
    assert host.tree() == before


@needs_host_python
def test_shim_only_installs_a_tree_of_the_shim_alone_and_no_config(host: Host) -> None:
    conf_before = sorted(p.name for p in host.conf.iterdir())
    dry = host.run("--layout=python", "--shim-only", "--dry-run").stdout
    assert f"dry run: would write {host.bin / 'multus-shim'} (launcher)" in dry
    assert not (host.bin / "multusctl.d").exists()
    out = host.run("--layout=python", "--shim-only").stdout
    assert "(3 files)" in out
    assert not (host.bin / "multus").exists()
    assert sorted(p.name for p in host.conf.iterdir()) == conf_before  # no 00-multus.conf
    (tree,) = trees(host)
    sources = sorted(str(p.relative_to(host.bin / "multusctl.d" / tree))
                     for p in (host.bin / "multusctl.d" / tree).rglob("*.py"))
    assert sources == ["multusctl/__init__.py", "multusctl/bin/__init__.py",
                       "multusctl/bin/shim.py"]
    assert version(host.bin / "multus-shim")["supportedVersions"] == SUPPORTED
    assert host.run("--layout=python", "--shim-only").stdout.rstrip().endswith(
        "already installed")


def test_frozen_layout_with_shim_links_a_published_copy_of_the_shim_build(host: Host) -> None:
    before = host.tree()
    dry = host.run("--layout=frozen", "--with-shim", "--dry-run").stdout
    assert host.tree() == before
    assert f"would write {host.bin / 'multus-shim'} (-> multusctl.d/shim-" in dry
    out = host.run("--layout=frozen", "--with-shim").stdout
    assert "install: 6 changed" in out  # two trees, two links, kubeconfig, config
    link = host.bin / "multus-shim"
    target = os.readlink(link)
    assert target.startswith("multusctl.d/shim-")
    assert target.endswith("/multus-shim")
    assert (link.resolve().parent / "_internal" / "base_library.zip").is_file()
    assert not (link.resolve().parent / ".build-key").exists()
    run = subprocess.run([str(link)], env={"CNI_COMMAND": "VERSION"}, capture_output=True,
                         text=True, check=True)
    assert run.stdout == "frozen-shim-stand-in VERSION\n"
    assert os.readlink(host.bin / "multus").startswith("multusctl.d/frozen-")
    assert record(host)[str(link)] == f"symlink:{target}"

    after = host.tree()
    second = host.run("--layout=frozen", "--with-shim").stdout
    assert second.rstrip().endswith("install: nothing to do, already installed")
    assert host.tree() == after

    host.run("--uninstall")
    assert host.tree() == before


def test_shim_upgrade_keeps_the_previous_tree_until_the_next_run(host: Host) -> None:
    """A shim started before the switch may still wait (60 s) for the daemon, loading
    modules from its tree: the tree it ran from stays for one run (the thick DaemonSet's
    init container runs this command and relies on it)."""
    host.run("--layout=frozen", "--shim-only")
    old = os.readlink(host.bin / "multus-shim").split("/")[1]
    host.set_frozen_shim("frozen-shim-v2")
    out = host.run("--layout=frozen", "--shim-only").stdout
    new = os.readlink(host.bin / "multus-shim").split("/")[1]
    assert new != old
    assert f"note: {host.bin / 'multusctl.d' / old} (kept: " in out
    assert trees(host) == sorted([old, new])
    assert f"{host.bin / 'multusctl.d' / old}/" in record(host)  # uninstall still finds it
    run = subprocess.run([str(host.bin / "multus-shim")], env={"CNI_COMMAND": "ADD"},
                         capture_output=True, text=True, check=True)
    assert run.stdout == "frozen-shim-v2 ADD\n"

    out = host.run("--layout=frozen", "--shim-only").stdout
    assert f"removed {host.bin / 'multusctl.d' / old} (previous version)" in out
    assert trees(host) == [new]
    assert f"{host.bin / 'multusctl.d' / old}/" not in record(host)
    assert host.run("--layout=frozen", "--shim-only").stdout.rstrip().endswith(
        "already installed")
    host.run("--uninstall")
    assert sorted(p.name for p in host.bin.iterdir()) == []


def test_thin_install_leaves_the_shim_and_foreign_shim_trees_alone(host: Host) -> None:
    host.run("--layout=frozen", "--with-shim", "--skip-config")
    shim_target = os.readlink(host.bin / "multus-shim")
    # a tree the thick DaemonSet's former init script published (shim-<build key>/)
    foreign = host.bin / "multusctl.d" / "shim-0123456789abcdef"
    foreign.mkdir()
    (host.frozen / "multus").write_text("#!/bin/sh\necho frozen-v2\n")
    out = host.run("--layout=frozen", "--skip-config").stdout  # no --with-shim
    assert "multus-shim" not in out
    assert os.readlink(host.bin / "multus-shim") == shim_target
    assert foreign.is_dir()
    assert shim_target.split("/")[1] in trees(host)
    assert f"{host.bin / 'multusctl.d' / shim_target.split('/')[1]}/" in record(host)
    host.run("--uninstall")
    assert sorted(p.name for p in host.bin.iterdir()) == ["multusctl.d"]
    assert trees(host) == [foreign.name]  # not ours: left where it was


def test_a_run_without_the_binary_keeps_the_installed_tree_recorded(host: Host) -> None:
    before = host.tree()
    host.run("--layout=frozen", "--with-shim")
    host.run("--skip-binary")  # config only: the trees stay installed, and recorded
    files = record(host)
    assert sum(k.endswith("/") for k in files) == 2
    host.run("--uninstall")
    assert host.tree() == before


def test_missing_frozen_shim_build_is_an_error(host: Host, tmp_path: Path) -> None:
    proc = host.run("--layout=frozen", "--shim-only", f"--frozen-shim-dir={tmp_path / 'no'}",
                    check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: no frozen multus-shim build in {tmp_path / 'no'}")
    assert "--frozen-shim-dir" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = host.run("--layout=auto", "--shim-only", f"--python={tmp_path / 'no-python'}",
                    f"--frozen-shim-dir={tmp_path / 'no'}", check=False)
    assert proc.returncode == 1
    assert "cannot install multus-shim: the host has no python3 >= 3.11" in proc.stderr
    assert not (host.bin / "multus-shim").exists()
