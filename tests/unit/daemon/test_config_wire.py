"""Daemon config parsing, the per-request override and request decoding (pure)."""

from __future__ import annotations

import base64
import json

import pytest

from multusctl.daemon import config as daemon_config
from multusctl.daemon import wire
from multusctl.errors import MultusError


def test_defaults() -> None:
    conf = daemon_config.load(b"{}")
    assert conf.socket_path == "/run/multus/multus.sock"
    assert conf.auto
    assert conf.cni_config_dir == "/etc/cni/net.d"
    assert conf.autoconfig_dir == "/etc/cni/net.d"
    assert conf.log_to_stderr is False
    assert conf.metrics_port is None
    assert conf.connection_limit is None
    assert conf.max_concurrent_requests == daemon_config.DEFAULT_MAX_CONCURRENT
    assert conf.cleanup_config_on_exit is False


def test_seed_thick_configmap() -> None:
    conf = daemon_config.load(json.dumps({
        "chrootDir": "/hostroot", "cniVersion": "0.3.1", "logLevel": "verbose",
        "logToStderr": True, "cniConfigDir": "/host/etc/cni/net.d",
        "multusAutoconfigDir": "/host/etc/cni/net.d", "multusConfigFile": "auto",
        "socketDir": "/host/run/multus/", "unknownKey": [1],
    }).encode())
    assert conf.chroot_dir == "/hostroot"
    assert conf.socket_path == "/host/run/multus/multus.sock"
    assert conf.raw["unknownKey"] == [1]
    assert conf.daemon_socket_dir == ""


def test_daemon_socket_dir_is_a_generation_key() -> None:
    conf = daemon_config.load(b'{"socketDir": "/x/run/", "daemonSocketDir": "/x/run/"}')
    assert conf.socket_dir == conf.daemon_socket_dir == "/x/run/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{", "failed to unmarshall the daemon configuration: "),
        (b"[]", "expected a JSON object"),
        (b'{"metricsPort": "9091"}', "metricsPort: expected an integer"),
        (b'{"logToStderr": "yes"}', "logToStderr: expected a boolean"),
        (b'{"connectionLimit": true}', "connectionLimit: expected an integer"),
        (b'{"shutdownDelaySeconds": -1}', "shutdownDelaySeconds"),
    ],
)
def test_bad_configs(text: bytes, message: str) -> None:
    with pytest.raises(daemon_config.DaemonConfigError, match=message):
        daemon_config.load(text)


def test_validate() -> None:
    with pytest.raises(MultusError, match="connection limit must be greater than 0, got 0"):
        daemon_config.validate(daemon_config.load(b'{"connectionLimit": 0}'))
    with pytest.raises(MultusError, match="perNodeCertificate"):
        daemon_config.validate(
            daemon_config.load(b'{"perNodeCertificate": {"enabled": true}}')
        )
    daemon_config.validate(daemon_config.load(b'{"connectionLimit": 5}'))


def test_override_daemon_wins_except_readiness_in_auto_mode() -> None:
    request = json.dumps({"name": "m", "cniVersion": "1.0.0", "namespaceIsolation": False,
                          "readinessindicatorfile": "/req"}).encode()
    auto = daemon_config.load(b'{"namespaceIsolation": true, "readinessindicatorfile": "/d"}')
    merged = json.loads(daemon_config.override(request, auto))
    assert merged["namespaceIsolation"] is True
    assert merged["readinessindicatorfile"] == "/req"
    assert merged["name"] == "m"
    manual = daemon_config.load(
        b'{"multusConfigFile": "/x.conf", "readinessindicatorfile": "/d"}'
    )
    assert json.loads(daemon_config.override(request, manual))["readinessindicatorfile"] == "/d"
    with pytest.raises(MultusError, match="failed to unmarshall CNI config"):
        daemon_config.override(b"nope", auto)


def _env(**extra: str) -> dict[str, str]:
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/n",
           "CNI_ARGS": "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p"}
    env.update(extra)
    return env


def test_extract_defaults_and_pairs() -> None:
    args = wire.extract(_env(CNI_ARGS="K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;X=a=b=;;"))
    assert args.ifname == "eth0"
    assert args.pod_uid == ""
    assert args.arg_pairs == (("K8S_POD_NAMESPACE", "ns"), ("K8S_POD_NAME", "p"),
                              ("X", "a=b="))
    assert args.printed() == (
        'ContainerID:"c" Netns:"/n" IfName:"eth0" '
        'Args:"K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;X=a=b=;;" Path:""'
    )
    recovered = wire.with_pod_uid(args, "u-1")
    assert recovered.pod_uid == "u-1"
    assert recovered.args.endswith(";K8S_POD_UID=u-1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CNI_COMMAND": ""}, "could not extract the CNI command args: unexpected or missing "
                              "CNI_COMMAND"),
        ({"CNI_COMMAND": "NOPE"}, "unknown cmd type: NOPE"),
        ({"CNI_CONTAINERID": None}, "could not extract the CNI command args: missing "
                                    "CNI_CONTAINERID"),
        ({"CNI_NETNS": None}, "could not extract the CNI command args: missing CNI_NETNS"),
        ({"CNI_ARGS": None}, "could not extract the CNI command args: missing CNI_ARGS"),
        ({"CNI_ARGS": "K8S_POD_NAME=p"}, "missing K8S_POD_NAMESPACE"),
        ({"CNI_ARGS": "K8S_POD_NAMESPACE=n"}, "missing K8S_POD_NAME"),
        ({"CNI_ARGS": "K8S_POD_NAMESPACE=;K8S_POD_NAME=p"},
         "required CNI variable missing. pod name: p; pod namespace: "),
        ({"CNI_ARGS": "K8S_POD_NAMESPACE=n;junk"}, "invalid CNI_ARG 'junk'"),
    ],
)
def test_extract_errors(env: dict[str, str | None], message: str) -> None:
    merged = _env()
    for key, value in env.items():
        if value is None:
            merged.pop(key)
        else:
            merged[key] = value
    with pytest.raises(wire.RequestError) as info:
        wire.extract(merged)
    assert info.value.msg == message or info.value.msg.endswith(message)


def test_status_and_gc_need_no_pod() -> None:
    args = wire.extract({"CNI_COMMAND": "STATUS"})
    assert (args.command, args.pod_name) == ("STATUS", "")


def test_decode_request_upstream_shape() -> None:
    body = json.dumps({"env": {" CNI_COMMAND ": "DEL"}, "config": base64.b64encode(b"{}")
                       .decode(), "interfaceAttributes": {"mac": "aa"}}).encode()
    req = wire.decode_request(body)
    assert req.env == {"CNI_COMMAND": "DEL"}
    assert req.config == b"{}"
    assert req.interface_attributes == {"mac": "aa"}
    assert wire.decode_request(wire.encode_request({"A": "b"}, b"xyz")).config == b"xyz"
    for bad in (b"nope", b"[]", b'{"env": {"A": 1}}', b'{"config": "!!"}'):
        with pytest.raises(wire.RequestError):
            wire.decode_request(bad)


def test_add_response_versions() -> None:
    result = {"cniVersion": "0.3.1", "interfaces": [{"name": "eth0", "sandbox": "/n"}],
              "ips": [{"version": "4", "address": "10.1.1.2/24", "interface": 0}],
              "dns": {}}
    doc = json.loads(wire.add_response(result, b'{"cniVersion": "0.3.1"}'))
    assert doc["Result"]["cniVersion"] == "1.0.0"
    assert "version" not in doc["Result"]["ips"][0]
    printed = json.loads(doc["printedResult"])
    assert printed["cniVersion"] == "0.3.1"
    assert printed["ips"][0]["version"] == "4"
    as_020 = json.loads(json.loads(wire.add_response(result, b'{"cniVersion": "0.2.0"}'))
                        ["printedResult"])
    assert as_020["ip4"]["ip"] == "10.1.1.2/24"


def test_error_body() -> None:
    err = MultusError("boom", "why", code=11)
    assert json.loads(wire.error_body(err)) == {"code": 11, "msg": "boom", "details": "why"}
