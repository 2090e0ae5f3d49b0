"""Fixtures of the privileged tier: real plugins in real network namespaces, as root.

Every test gets its own node namespace (veth ``eth0`` as macvlan master), pod namespaces on
demand, and a private tmp tree for host-local's ``dataDir`` and multus' ``cniDir``. All of it
is removed by finalisers, even when the test fails. This tier needs root: without it every
test *fails* with a clear message (CI runs as root, so a silent skip would hide the tier).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The tier's helper modules (netns, cnitier) are plain modules next to this file; bench
# scripts import them the same way.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import netns as nslab
from cnitier import Dirs, RunCni

REPO = Path(__file__).resolve().parents[2]
#: Paths outside our tmp tree that a scenario must never change.
GLOBAL_PATHS = (Path("/var/lib/cni"), Path("/etc/cni"), Path("/opt/cni"))
#: Session-wide namespace prefix: ``mct-<pytest pid>-``.
PREFIX = nslab.default_prefix()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.privileged)


def _multus_path() -> Path:
    override = os.environ.get("MULTUS_BIN")
    if override:
        return Path(override)
    return Path(sys.executable).parent / "multus"


@pytest.fixture(scope="session")
def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "the privileged test tier needs root (it creates network namespaces and runs "
            "CNI plugins); run it as root or deselect it with -m 'not privileged'",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def multus_bin(require_root: None) -> Path:
    path = _multus_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"the multus executable is missing at {path}: run "
            f"`{REPO}/.venv/bin/pip install -e {REPO} --no-deps` (or set MULTUS_BIN)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session", autouse=True)
def _no_namespace_leaks() -> Iterator[None]:
    """At the end of the session no namespace with our prefix may remain."""
    yield
    if os.geteuid() == 0:
        left = nslab.leftovers(PREFIX)
        assert not left, f"network namespaces leaked by the privileged tier: {left}"


def _root_links() -> list[str]:
    return sorted(nslab.link_names_root())


@pytest.fixture(autouse=True)
def _root_untouched(require_root: None) -> Iterator[None]:
    """The root namespace's links and the global CNI paths are the same after each test."""
    links_before = _root_links()
    fs_before = {str(p): nslab.snapshot(p) for p in GLOBAL_PATHS}
    exists_before = {str(p): p.exists() for p in GLOBAL_PATHS}
    yield
    assert _root_links() == links_before, "a test changed the root namespace's links"
    for p in GLOBAL_PATHS:
        assert p.exists() == exists_before[str(p)], f"{p} appeared or vanished"
        assert nslab.snapshot(p) == fs_before[str(p)], f"{p} changed"


@pytest.fixture
def lab(require_root: None) -> Iterator[nslab.Lab]:
    the_lab = nslab.Lab(PREFIX)
    yield the_lab
    errors = the_lab.teardown()
    assert not errors, f"namespace teardown failed: {errors}"


@pytest.fixture
def node(lab: nslab.Lab) -> nslab.Node:
    return lab.node()


@pytest.fixture
def pod_factory(lab: nslab.Lab) -> Callable[[], str]:
    """Make pod namespaces; returns the name (``CNI_NETNS`` is ``/run/netns/<name>``)."""
    return lab.pod


@pytest.fixture
def pod(pod_factory: Callable[[], str]) -> str:
    return pod_factory()


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs.make(tmp_path)


@pytest.fixture
def run_cni(node: nslab.Node, multus_bin: Path) -> RunCni:
    return RunCni(node, multus_bin)
