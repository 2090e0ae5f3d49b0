"""deployments/multus-daemonset-thick-plugin.yml: consistent with the thin manifest and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from multusctl.daemon import config as daemon_config

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
    init = spec["initContainers"][0]
    assert "multus-shim" in " ".join(init["command"])
