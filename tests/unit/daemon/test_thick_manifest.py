"""deployments/multus-daemonset-thick-plugin.yml: consistent with the thin manifest and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from multusctl.daemon import config as daemon_config
from multusctl.installer.install import DEFAULT_FROZEN_SHIM_DIR

DEPLOY = Path(__file__).resolve().parents[3] / "deployments"
THICK = DEPLOY / "multus-daemonset-thick-plugin.yml"
THIN = DEPLOY / "multus-daemonset.yml"
SHARED = ("CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind)


def test_crd_sa_rbac_equal_the_thin_manifest() -> None:
    thick, thin = _docs(THICK), _docs(THIN)
    for kind in SHARED:
        assert _kind(thick, kind) == _kind(thin, kind), kind


def test_rbac_allows_the_daemon_watches() -> None:
    rules = _kind(_docs(THICK), "ClusterRole")["rules"]
    by_resource = {r: set(rule["verbs"]) for rule in rules for r in rule["resources"]}
    assert {"list", "watch", "get"} <= by_resource["pods"]
    assert {"list", "watch", "get"} <= by_resource["network-attachment-definitions"]
    assert "update" not in by_resource["pods"]


def test_daemon_config_and_daemonset() -> None:
    docs = _docs(THICK)
    raw = _kind(docs, "ConfigMap")["data"]["daemon-config.json"]
    conf = daemon_config.load(raw.encode())
    daemon_config.validate(conf)
    assert conf.chroot_dir == "/hostroot"
    assert conf.auto
    spec = _kind(docs, "DaemonSet")["spec"]["template"]["spec"]
    assert spec["hostPID"] is True
    container = spec["containers"][0]
    assert container["command"] == ["multusctl", "daemon"]
    assert container["args"] == ["--config", daemon_config.DEFAULT_PATH]
    env = {e["name"]: e for e in container["env"]}
    assert env["MULTUS_NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["hostroot"] == conf.chroot_dir
    assert mounts["cnibin"] == "/opt/cni/bin"  # same path as on the host (THK-17)
    assert conf.socket_dir.startswith(mounts["host-run"])
    limits = container["resources"]["limits"]
    assert limits["memory"].endswith("Mi")
    (init,) = spec["initContainers"]
    assert init["name"] == "install-multus-shim"


def _init_spec(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(init container, volumes by name) of a manifest's DaemonSet."""
    spec = _kind(_docs(path), "DaemonSet")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    return init, {v["name"]: v for v in spec["volumes"]}


def test_init_container_installs_the_shim_as_the_thin_one_installs_the_plugin() -> None:
    """`multusctl install --shim-only` with the thin init container's layout choice, host
    root and bin dir: the python launcher where the host has python3 >= 3.11 (the shim
    starts on every CNI call), else the image's frozen shim."""
    thick, thick_volumes = _init_spec(THICK)
    thin, thin_volumes = _init_spec(THIN)
    assert thick["command"] == thin["command"] == ["multusctl", "install"]
    assert thick["args"] == [
        "--shim-only",
        "--layout=auto",
        "--host-root=/host",
        "--cni-bin-dir=/host/opt/cni/bin",
        f"--frozen-shim-dir={DEFAULT_FROZEN_SHIM_DIR}",
    ]
    shared = ("--layout=", "--host-root=", "--cni-bin-dir=")
    assert [a for a in thick["args"] if a.startswith(shared)] == [
        a for a in thin["args"] if a.startswith(shared)]
    # the same mounts: the host's bin dir (read-write) and its /usr (read-only, only to
    # look for python3), from the same host paths
    assert thick["volumeMounts"] == thin["volumeMounts"]
    for mount in thick["volumeMounts"]:
        name = mount["name"]
        assert thick_volumes[name] == thin_volumes[name], name
    mounts = {m["mountPath"]: m for m in thick["volumeMounts"]}
    assert mounts["/host/usr"]["readOnly"] is True
    assert thick_volumes["host-usr"]["hostPath"]["path"] == "/usr"
    assert thick["securityContext"] == thin["securityContext"]
