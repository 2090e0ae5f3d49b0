"""The node executables as the CNI plugin: the frozen build and the python launcher.

The frozen ``multus`` (PyInstaller ``--onedir``, ``scripts/build-node-binary.sh``) is what
nodes without a suitable Python run; it is built once per content of ``multusctl/**.py``
(the script keys its output on that hash and reuses a matching build; a cold build takes
a few minutes). Both layouts are installed into a tmp bin dir by ``multusctl install``,
exactly as on a node, and run by the smoke scenarios: VERSION, bridge + host-local master
with one macvlan ADD/DEL, and error cases that reach the lazily imported Kubernetes
client and YAML loader (the modules a freezer misses most easily).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import netns as nslab
import pytest
from cnitier import (
    CLUSTER_SUBNET,
    Dirs,
    RunCni,
    bridge_conf,
    leftover_problems,
    macvlan_conf,
    macvlan_subnet,
    multus_conf,
)

from multusctl.installer.install import HostPaths, InstallOptions, find_host_python, install

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-node-binary.sh"
SUPPORTED = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
CID = "ctr-frozen-1"
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_UID=uid-a"


@pytest.fixture(scope="session")
def frozen_dir(require_root: None) -> Path:
    """The onedir build for the current sources (built, or reused when the key matches)."""
    out = Path(os.environ.get("MULTUSCTL_FROZEN_OUT", REPO / "build" / "node"))
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--out", str(out)],
        capture_output=True, text=True, timeout=1100, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"{BUILD_SCRIPT} failed ({proc.returncode}):\n{proc.stderr[-3000:]}",
                    pytrace=False)
    return Path(proc.stdout.strip().splitlines()[-1]).parent


LAYOUTS = ["frozen", "python"]


@pytest.fixture(params=LAYOUTS)
def installed(request: pytest.FixtureRequest, frozen_dir: Path, tmp_path: Path) -> Path:
    """``<tmp>/bin/multus`` installed by ``multusctl install --layout <param>``."""
    layout = str(request.param)
    if layout == "python" and find_host_python(HostPaths("/")) is None:
        pytest.fail("no host python3 >= 3.11 for the python layout", pytrace=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    report = install(InstallOptions(cni_bin_dir=str(bin_dir), layout=layout,  # type: ignore[arg-type]
                                    frozen_dir=str(frozen_dir), skip_config=True))
    assert report.layout == layout
    entry = bin_dir / "multus"
    assert os.access(entry, os.X_OK)
    if layout == "frozen":
        assert entry.is_symlink()
        assert (entry.resolve().parent / "_internal").is_dir()
    return entry


def _version(plugin: Path) -> nslab.CniRun:
    return nslab.cni_exec(plugin, nslab.cni_env("VERSION"), {"cniVersion": "0.4.0"})


def test_frozen_build_answers_version_without_any_python(frozen_dir: Path) -> None:
    exe = frozen_dir / "multus"
    res = nslab.cni_exec(exe, {"CNI_COMMAND": "VERSION", "PATH": "/nonexistent"}, b"{}")
    assert res.rc == 0, res.stderr
    assert res.out == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}
    # self-contained: its interpreter and stdlib are inside the build, not on the host
    internal = frozen_dir / "_internal"
    assert any(p.name.startswith("libpython3") for p in internal.iterdir())
    flag = subprocess.run([str(exe), "-version"], capture_output=True, text=True, check=False)
    assert flag.returncode == 0
    assert flag.stdout.startswith("multus: version:")


def test_installed_version(installed: Path) -> None:
    res = _version(installed)
    assert res.rc == 0, res.stderr
    assert res.out == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}


def test_bridge_master_plus_macvlan_add_del(
    installed: Path, node: nslab.Node, pod: str, dirs: Dirs
) -> None:
    run = RunCni(node, installed)
    version = "1.0.0"
    delegates = [bridge_conf(version, dirs), macvlan_conf(version, dirs, 1)]
    conf = multus_conf(version, dirs, delegates)

    added = run("ADD", conf, CID, pod, "eth0", args=POD_ARGS)
    assert added.rc == 0, f"{added.stdout}\n{added.stderr}"
    assert added.out["cniVersion"] == version
    assert [i["name"] for i in added.out["interfaces"] if i.get("sandbox")] == ["eth0"]
    addrs = nslab.addresses(pod, family=4)
    assert set(addrs) == {"lo", "eth0", "net1"}
    assert nslab.in_subnet(addrs["eth0"][0], CLUSTER_SUBNET)
    assert nslab.in_subnet(addrs["net1"][0], macvlan_subnet(1))

    deleted = run("DEL", conf, CID, pod, "eth0", args=POD_ARGS)
    assert deleted.rc == 0, deleted.stdout
    assert deleted.stdout.strip() == ""
    problems = leftover_problems(node, pod, dirs)
    assert not problems, "\n".join(problems)


def test_bad_config_is_a_cni_error(installed: Path, node: nslab.Node, pod: str) -> None:
    res = RunCni(node, installed)("ADD", b"{not json", CID, pod, "eth0", args=POD_ARGS)
    assert res.rc == 1
    assert res.out["code"] == 6, res.out
    assert res.out["msg"].startswith("error unmarshall network config"), res.out
    assert "Traceback" not in res.stderr


def test_yaml_kubeconfig_reaches_lazy_kube_client(
    installed: Path, node: nslab.Node, pod: str, dirs: Dirs
) -> None:
    """A YAML kubeconfig makes the plugin import multusctl.kube.rest and yaml lazily:
    an unparsable one must come back as the client's own error, not an ImportError."""
    kubeconfig = dirs.root / "broken.kubeconfig"
    kubeconfig.write_text("clusters: [unclosed\n")
    conf = multus_conf("1.0.0", dirs, [bridge_conf("1.0.0", dirs)],
                       kubeconfig=str(kubeconfig))
    res = RunCni(node, installed)("ADD", conf, CID, pod, "eth0", args=POD_ARGS)
    assert res.rc == 1, res.stdout
    msg = json.dumps(res.out)
    assert "GetK8sClient: failed to get context for the kubeconfig" in msg, msg
    assert "ModuleNotFoundError" not in msg + res.stderr
    assert nslab.link_names(pod) == {"lo"}
