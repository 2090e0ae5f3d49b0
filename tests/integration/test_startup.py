"""The CNI hot path stays stdlib-only: nothing heavy is imported to answer a CNI call."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

HEAVY = {"kubernetes", "typer", "rich", "watchdog", "yaml", "pydantic", "pyroute2", "urllib3"}


def _modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {m.split(".")[0] for m in out.split()}


def test_multus_binary_imports_nothing_heavy() -> None:
    loaded = _modules(
        "import multusctl.bin.multus, multusctl.plugin.commands, multusctl.nad.validate"
    )
    assert not loaded & HEAVY, loaded & HEAVY


def test_version_path_imports_nothing_heavy() -> None:
    loaded = _modules("import multusctl.cni.version, multusctl.cni.skel")
    assert not loaded & HEAVY
