"""Golden cases for the kubeconfig renderer (tests/golden/kubeconfig/<case>/)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from multusctl.config.kubeconfig import KubeconfigInputs, render_kubeconfig, server_url
from multusctl.errors import InvalidConfig, InvalidEnvironment

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "kubeconfig"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def _inputs(case: str) -> KubeconfigInputs:
    raw = json.loads((GOLDEN / case / "inputs.json").read_text())
    if "ca_data" in raw:
        raw["ca_data"] = raw["ca_data"].encode()
    return KubeconfigInputs(**raw)


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    inputs = _inputs(case)
    text = render_kubeconfig(inputs)
    assert text == (GOLDEN / case / "expected.yaml").read_text()
    assert render_kubeconfig(inputs) == text  # deterministic


@pytest.mark.parametrize("case", CASES)
def test_golden_is_a_valid_kubeconfig(case: str) -> None:
    inputs = _inputs(case)
    doc = yaml.safe_load(render_kubeconfig(inputs))
    assert doc["current-context"] == "multus-context"
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == server_url(inputs.protocol, inputs.host, inputs.port)
    user = doc["users"][0]["user"]
    if inputs.token:
        assert user["token"] == inputs.token.strip()
    else:
        assert user["tokenFile"] == inputs.token_file
    if inputs.skip_tls_verify:
        assert cluster["insecure-skip-tls-verify"] is True
    elif inputs.ca_data is not None:
        assert base64.b64decode(cluster["certificate-authority-data"]) == inputs.ca_data


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.96.0.1", "https://10.96.0.1:443"),
        ("kubernetes.default.svc", "https://kubernetes.default.svc:443"),
        ("fd00::1", "https://[fd00::1]:443"),
        ("[fd00::1]", "https://[fd00::1]:443"),
        ("fe80::1%eth0", "https://[fe80::1%eth0]:443"),
    ],
)
def test_server_url_brackets_only_ipv6(host: str, expected: str) -> None:
    assert server_url("https", host, "443") == expected


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        ("", "443", "KUBERNETES_SERVICE_HOST not set"),
        ("10.0.0.1", "", "KUBERNETES_SERVICE_PORT not set"),
        ("10.0.0.1", "https", "not a port number"),
        ("10.0.0.1", "70000", "not a port number"),
    ],
)
def test_server_url_errors(host: str, port: str, message: str) -> None:
    with pytest.raises(InvalidEnvironment, match=message):
        server_url("https", host, port)


def test_a_credential_is_required() -> None:
    with pytest.raises(InvalidConfig, match="token"):
        render_kubeconfig(KubeconfigInputs(host="10.0.0.1", port="443"))


def test_odd_token_characters_stay_valid_yaml() -> None:
    token = 'a"b\\c: #d'  # noqa: S105 - not a secret
    doc = yaml.safe_load(render_kubeconfig(KubeconfigInputs(host="h", port="1", token=token)))
    assert doc["users"][0]["user"]["token"] == token
