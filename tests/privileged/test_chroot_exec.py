"""THK-17: ``cni.invoke`` runs a delegate chrooted, after finding it in *our* filesystem."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from multusctl.cni import invoke
from multusctl.errors import DelegateError

PLUGIN = """#!/bin/sh
read -r _stdin
read -r m < /marker
echo "{\\"cniVersion\\": \\"0.3.1\\", \\"dns\\": {\\"domain\\": \\"$m\\"}}"
"""


def _mini_root(root: Path) -> None:
    """/bin/sh and its shared libraries, copied into ``root``."""
    sh = Path(os.path.realpath("/bin/sh"))
    out = subprocess.run(["ldd", str(sh)], capture_output=True, text=True, check=True).stdout
    files = [sh]
    for line in out.splitlines():
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


def _executor(bindir: Path, cache: Path, chroot: str) -> invoke.Executor:
    return invoke.Executor(bin_dirs=(str(bindir),), base_env={"PATH": "/bin"},
                           cache_dir=str(cache), chroot_dir=chroot)


def test_delegate_runs_inside_the_chroot(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("chroot needs root", pytrace=False)
    root = tmp_path / "root"
    _mini_root(root)
    # found in our filesystem, then executed at the same path inside the chroot (THK-17)
    bindir = tmp_path / "plugins"
    bindir.mkdir()
    plugin = bindir / "markercni"
    plugin.write_text(PLUGIN)
    plugin.chmod(0o755)
    shutil.copytree(bindir, root / bindir.relative_to("/"))
    rt = invoke.RuntimeConf(container_id="c", netns="", ifname="eth0")
    executor = _executor(bindir, tmp_path / "cache", str(root))
    out = invoke.exec_plugin(executor, "markercni", "ADD", {"cniVersion": "0.3.1", "name": "n"},
                             rt)
    assert b"inside-the-chroot" in out


def test_missing_chroot_is_a_delegate_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("chroot needs root", pytrace=False)
    plugin = tmp_path / "bin" / "any"
    plugin.parent.mkdir()
    plugin.write_text("#!/bin/sh\necho '{}'\n")
    plugin.chmod(0o755)
    executor = _executor(plugin.parent, tmp_path / "cache", str(tmp_path / "no-such-root"))
    with pytest.raises(DelegateError, match="cannot enter chroot"):
        invoke.exec_plugin(executor, "any", "ADD", {}, None)
