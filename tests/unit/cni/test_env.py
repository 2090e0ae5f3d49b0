from __future__ import annotations

import pytest

from multusctl.cni import env
from multusctl.errors import CniCode, InvalidEnvironment, MultusError

BASE = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "abc123",
    "CNI_NETNS": "/run/netns/x",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin:/usr/lib/cni",
}


def test_load_full_environment() -> None:
    parsed = env.load({**BASE, "CNI_ARGS": "K8S_POD_NAME=p;FOO=bar"})
    assert parsed.command == "ADD"
    assert parsed.path == ("/opt/cni/bin", "/usr/lib/cni")
    assert parsed.arg_pairs == (("K8S_POD_NAME", "p"), ("FOO", "bar"))


@pytest.mark.parametrize("missing", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"])
def test_add_requires_each_variable(missing: str) -> None:
    environ = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(InvalidEnvironment) as info:
        env.load(environ)
    assert info.value.msg == f"required env variables [{missing}] missing"
    assert info.value.cni_code == CniCode.INVALID_ENVIRONMENT


def test_del_does_not_need_netns() -> None:
    environ = {k: v for k, v in BASE.items() if k != "CNI_NETNS"}
    assert env.load({**environ, "CNI_COMMAND": "DEL"}).netns == ""


def test_unknown_command() -> None:
    with pytest.raises(InvalidEnvironment, match="unknown CNI_COMMAND: FOO"):
        env.load({**BASE, "CNI_COMMAND": "FOO"})


@pytest.mark.parametrize(
    ("ifname", "message"),
    [
        ("", "required env variables [CNI_IFNAME] missing"),
        ("a" * 16, "interface name is too long"),
        ("..", "interface name is . or .."),
        ("a/b", "interface name contains / or : or whitespace characters"),
        ("a b", "interface name contains / or : or whitespace characters"),
    ],
)
def test_ifname_rules(ifname: str, message: str) -> None:
    with pytest.raises(InvalidEnvironment) as info:
        env.load({**BASE, "CNI_IFNAME": ifname})
    assert info.value.msg == message


def test_container_id_characters() -> None:
    with pytest.raises(InvalidEnvironment, match="invalid characters in containerID"):
        env.load({**BASE, "CNI_CONTAINERID": "-bad id"})


def test_k8s_args_parse() -> None:
    args = env.parse_k8s_args(
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c;"
        "K8S_POD_UID=u;FOO=bar"
    )
    assert args.triple() == "ns/p/u"
    assert args.pod_infra_container_id == "c"


def test_k8s_args_unknown_key_rejected() -> None:
    with pytest.raises(MultusError, match=r'ARGS: unknown args \["FOO=bar"\]'):
        env.parse_k8s_args("K8S_POD_NAME=a;FOO=bar")


def test_k8s_args_invalid_pair() -> None:
    with pytest.raises(MultusError, match='ARGS: invalid pair "novalue"'):
        env.parse_k8s_args("novalue")


def test_k8s_args_bad_ip() -> None:
    with pytest.raises(MultusError, match="invalid IP address: x"):
        env.parse_k8s_args("IP=x")


def test_empty_args_allowed() -> None:
    assert env.parse_k8s_args("") == env.K8sArgs()
