from __future__ import annotations

import json

import pytest

from multusctl.errors import DecodeError, IncompatibleVersion, InvalidConfig
from multusctl.plugin import netconf

BRIDGE = {"cniVersion": "1.0.0", "name": "cluster", "type": "bridge"}


def conf(**extra: object) -> bytes:
    return json.dumps({"name": "multus", "cniVersion": "1.0.0", **extra}).encode()


def test_defaults() -> None:
    nc = netconf.load(conf(delegates=[BRIDGE]))
    assert nc.bin_dir == "/opt/cni/bin"
    assert nc.conf_dir == "/etc/cni/multus/net.d"
    assert nc.cni_dir == "/var/lib/cni/multus"
    assert nc.log_to_stderr is True
    assert nc.multus_namespace == "kube-system"
    assert nc.system_namespaces == ("kube-system",)
    assert nc.global_namespaces == ("default",)
    assert nc.readiness_indicator_file == ""
    assert nc.retry_delete_on_error is False
    assert json.loads(nc.delegates[0]) == BRIDGE


def test_needs_delegates_or_cluster_network() -> None:
    with pytest.raises(InvalidConfig, match="at least one delegate/clusterNetwork must be"):
        netconf.load(conf())


def test_cluster_network_ignores_invalid_delegates() -> None:
    nc = netconf.load(conf(clusterNetwork="flannel", delegates=[{"bogus": True}]))
    assert nc.cluster_network == "flannel"
    assert nc.delegates == ()


def test_delegate_without_type_or_plugins() -> None:
    with pytest.raises(InvalidConfig, match="delegate must have the 'type' or 'plugin' field"):
        netconf.load(conf(delegates=[{"name": "x"}]))


def test_conflist_plugin_without_type() -> None:
    with pytest.raises(InvalidConfig, match="a plugin delegate must have the 'type' field"):
        netconf.load(conf(delegates=[{"name": "x", "plugins": [{"name": "y"}]}]))


def test_wrong_type_names_the_key() -> None:
    with pytest.raises(InvalidConfig, match="logToStderr: expected a boolean"):
        netconf.load(conf(delegates=[BRIDGE], logToStderr="yes"))


def test_global_namespaces_replace_default() -> None:
    nc = netconf.load(conf(delegates=[BRIDGE], globalNamespaces="a, b,"))
    assert nc.global_namespaces == ("a", "b", "")


def test_readiness_path_made_absolute() -> None:
    nc = netconf.load(conf(delegates=[BRIDGE], readinessindicatorfile="x/../y"), cwd="/tmp")
    assert nc.readiness_indicator_file == "/tmp/y"


def test_log_options() -> None:
    nc = netconf.load(
        conf(delegates=[BRIDGE], logOptions={"maxSize": 1, "compress": False})
    )
    assert nc.log_options.max_size == 1
    assert nc.log_options.compress is False


def test_not_json() -> None:
    with pytest.raises(DecodeError, match="error unmarshall network config"):
        netconf.load(b"{nope")


def test_version_checks() -> None:
    nc = netconf.load(conf(delegates=[BRIDGE], cniVersion="0.3.1"))
    with pytest.raises(IncompatibleVersion, match="config version does not allow CHECK"):
        netconf.check_version(nc, "CHECK")
    bad = netconf.load(conf(delegates=[BRIDGE], cniVersion="9.9.9"))
    with pytest.raises(IncompatibleVersion, match="incompatible CNI versions"):
        netconf.check_version(bad, "ADD")
