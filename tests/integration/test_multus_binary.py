"""The `multus` executable run exactly as a runtime runs it: env + stdin, JSON on stdout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

MULTUS = shutil.which("multus", path=str(Path(os.__file__).parent)) or str(
    Path(__import__("sys").executable).parent / "multus"
)


def run(env: dict[str, str], stdin: bytes = b"", *args: str) -> subprocess.CompletedProcess[bytes]:
    base = {"PATH": os.environ.get("PATH", "")}
    return subprocess.run(
        [MULTUS, *args], input=stdin, env={**base, **env}, capture_output=True, check=False
    )


def add_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "c0ffee",
        "CNI_NETNS": str(tmp_path / "netns"),
        "CNI_IFNAME": "eth0",
        "CNI_PATH": str(tmp_path / "bin"),
        **extra,
    }


def conf(tmp_path: Path, **extra: object) -> bytes:
    body = {
        "cniVersion": "1.0.0",
        "name": "multus-cni-network",
        "type": "multus",
        "cniDir": str(tmp_path / "cache"),
        "binDir": str(tmp_path / "bin"),
        "delegates": [{"cniVersion": "1.0.0", "name": "c", "type": "bridge"}],
    }
    body.update(extra)
    return json.dumps(body).encode()


def error_of(proc: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    assert proc.returncode == 1, proc
    assert b"Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


def test_version_command() -> None:
    proc = run({"CNI_COMMAND": "VERSION"})
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {
        "cniVersion": "1.1.0",
        "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    }


def test_no_command_prints_about_to_stderr() -> None:
    proc = run({})
    assert proc.returncode == 0
    assert proc.stdout == b""
    assert b"meta-plugin that delegates to other CNI plugins" in proc.stderr
    assert b"CNI protocol versions supported: 0.1.0, 0.2.0" in proc.stderr


def test_version_flag() -> None:
    proc = run({}, b"", "-version")
    assert proc.returncode == 0
    assert proc.stdout.startswith(b"multus: version:")


def test_missing_env(tmp_path: Path) -> None:
    env = add_env(tmp_path)
    del env["CNI_NETNS"]
    err = error_of(run(env, conf(tmp_path)))
    assert err["code"] == 4
    assert err["msg"] == "required env variables [CNI_NETNS] missing"


def test_malformed_stdin(tmp_path: Path) -> None:
    err = error_of(run(add_env(tmp_path), b"{not json"))
    assert err["code"] == 6
    assert str(err["msg"]).startswith("error unmarshall network config:")


def test_unknown_cni_version(tmp_path: Path) -> None:
    err = error_of(run(add_env(tmp_path), conf(tmp_path, cniVersion="7.0.0")))
    assert err["code"] == 1
    assert err["msg"] == "incompatible CNI versions"
    assert 'config is "7.0.0"' in str(err["details"])


def test_missing_name(tmp_path: Path) -> None:
    body = json.loads(conf(tmp_path))
    del body["name"]
    err = error_of(run(add_env(tmp_path), json.dumps(body).encode()))
    assert err["code"] == 7
    assert err["msg"] == "missing network name"


def test_check_needs_040(tmp_path: Path) -> None:
    env = add_env(tmp_path, CNI_COMMAND="CHECK")
    err = error_of(run(env, conf(tmp_path, cniVersion="0.3.1")))
    assert err["code"] == 1
    assert err["msg"] == "config version does not allow CHECK"


def test_no_delegates(tmp_path: Path) -> None:
    err = error_of(run(add_env(tmp_path), conf(tmp_path, delegates=[])))
    assert err["code"] == 7
    assert err["msg"] == (
        "Multus: error loading netconf: LoadNetConf: at least one delegate/clusterNetwork "
        "must be specified"
    )


def test_path_in_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "netns").write_text("")
    body = {"cniVersion": "1.0.0", "name": "evil", "type": "../../bin/sh"}
    err = error_of(run(add_env(tmp_path), conf(tmp_path, delegates=[body])))
    assert err["code"] == 7
    assert "path separators are not allowed" in str(err["msg"])
    assert not (tmp_path / "cache" / "c0ffee").exists()


def test_bad_cni_args(tmp_path: Path) -> None:
    env = add_env(tmp_path, CNI_ARGS="K8S_POD_NAME=a;FOO=b")
    err = error_of(run(env, conf(tmp_path)))
    assert err["msg"] == 'Multus: error getting k8s args: ARGS: unknown args ["FOO=b"]'
