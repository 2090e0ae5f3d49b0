"""The CNI hot path stays stdlib-only: nothing heavy is imported to answer a CNI call."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

HEAVY = {"kubernetes", "typer", "rich", "watchdog", "yaml", "pydantic", "pyroute2", "urllib3",
         "prometheus_client"}


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
        "import multusctl.bin.multus, multusctl.bin.thin, multusctl.plugin.commands, "
        "multusctl.nad.validate"
    )
    assert not loaded & HEAVY, loaded & HEAVY


def test_version_path_imports_nothing_heavy() -> None:
    loaded = _modules("import multusctl.cni.version, multusctl.cni.skel")
    assert not loaded & HEAVY


def test_version_answer_does_not_load_the_plugin_core() -> None:
    out = subprocess.run(
        [sys.executable, "-c",
         "import os, sys\n"
         "os.environ['CNI_COMMAND'] = 'VERSION'\n"
         "from multusctl.bin import multus\n"
         "multus.run(['multus'], os.environ)\n"
         "print('MODULES', ' '.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout
    modules = set(out.split("MODULES", 1)[1].split())
    assert '"supportedVersions"' in out
    assert "multusctl.plugin.commands" not in modules
    assert "multusctl.cni.invoke" not in modules
    assert "subprocess" not in modules


def test_reading_a_multus_kubeconfig_does_not_import_yaml() -> None:
    """The kubeconfig `multusctl entrypoint` writes (upstream's YAML template) is read by
    the fast path; PyYAML is imported only for kubeconfigs outside that subset."""
    from pathlib import Path

    golden = Path(__file__).resolve().parents[1] / "golden" / "kubeconfig"
    path = sorted(golden.glob("*/expected.yaml"))[0]
    loaded = _modules(
        "from multusctl.kube import rest\n"
        f"creds = rest.load_kubeconfig({str(path)!r})\n"
        "assert creds.server.startswith('http'), creds"
    )
    assert "yaml" not in loaded
