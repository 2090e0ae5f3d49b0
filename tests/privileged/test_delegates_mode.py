"""Delegates mode end to end: the ``multus`` executable with Debian's reference plugins.

Each scenario runs at cniVersion 0.3.1, 0.4.0 and 1.0.0 (Debian's plugins stop at 1.0.0;
1.1.0 is covered with fake plugins in tests/integration/test_fake_plugins_110.py). multus
runs inside a node namespace exactly as a runtime would run it (env + stdin); assertions
read ``ip -j`` in the pod namespace, host-local's lease files and multus' cniDir. After
every scenario nothing may be left: no link, no lease, no cache file, and on disk only
the delegates' own files and our cache may have changed.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netns as nslab
import pytest
from cnitier import (
    CLUSTER_SUBNET,
    Dirs,
    RunCni,
    bridge_conf,
    cache_files,
    conflist,
    delegate_name,
    ifname_for,
    leftover_problems,
    macvlan_conf,
    macvlan_subnet,
    multus_conf,
    scratch_cache,
    unexpected_changes,
)

# Generous: a loaded 2-core machine runs 11 plugin pairs slowly; the default is for hangs.
pytestmark = [pytest.mark.privileged, pytest.mark.timeout(600)]

VERSIONS = ["0.3.1", "0.4.0", "1.0.0"]
CID = "ctr-0001"
POD_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a;K8S_POD_UID=uid-a"
SUPPORTED = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


@dataclass
class World:
    """One scenario's node, pod, tmp tree and cniVersion, plus the multus runner."""

    run: RunCni
    node: nslab.Node
    pod: str
    dirs: Dirs
    version: str

    def add(self, conf: Mapping[str, Any] | bytes, **kw: Any) -> nslab.CniRun:
        return self.run("ADD", conf, CID, self.pod, "eth0", args=POD_ARGS, **kw)

    def delete(self, conf: Mapping[str, Any] | bytes, **kw: Any) -> nslab.CniRun:
        return self.run("DEL", conf, CID, self.pod, "eth0", args=POD_ARGS, **kw)


@pytest.fixture(params=VERSIONS)
def w(
    request: pytest.FixtureRequest, run_cni: RunCni, node: nslab.Node, pod: str, dirs: Dirs
) -> World:
    return World(run_cni, node, pod, dirs, str(request.param))


# --------------------------------------------------------------------------- helpers


def assert_add_ok(res: nslab.CniRun, version: str, pod: str) -> dict[str, Any]:
    """ADD succeeded and printed the master's result in the master's version."""
    assert res.rc == 0, f"ADD failed: {res.stdout}\n{res.stderr}"
    out = res.out
    assert isinstance(out, dict), f"ADD stdout is not one JSON object: {res.stdout!r}"
    assert out["cniVersion"] == version
    sandboxed = [i for i in out.get("interfaces", []) if i.get("sandbox")]
    assert [i["name"] for i in sandboxed] == ["eth0"]
    assert sandboxed[0]["sandbox"] == str(nslab.NETNS_DIR / pod)
    addrs = [ip["address"] for ip in out["ips"]]
    assert len(addrs) == 1
    assert nslab.in_subnet(addrs[0], CLUSTER_SUBNET)
    if version < "1.0.0":
        assert out["ips"][0]["version"] == "4"
    else:
        assert "version" not in out["ips"][0]
    return out


def assert_pod_interfaces(pod: str, n_macvlan: int) -> None:
    """lo, eth0 in the cluster subnet, net1..netN each in its macvlan subnet and range."""
    addrs = nslab.addresses(pod, family=4)
    expected = {"lo", "eth0", *(f"net{i}" for i in range(1, n_macvlan + 1))}
    assert set(addrs) == expected
    assert addrs["lo"] == ["127.0.0.1/8"]
    assert len(addrs["eth0"]) == 1
    assert nslab.in_subnet(addrs["eth0"][0], CLUSTER_SUBNET)
    for i in range(1, n_macvlan + 1):
        assert len(addrs[f"net{i}"]) == 1, addrs
        ip = ipaddress.ip_interface(addrs[f"net{i}"][0])
        assert nslab.in_subnet(str(ip), macvlan_subnet(i))
        assert 200 <= int(str(ip.ip).rsplit(".", 1)[1]) <= 216
    kinds = nslab.links(pod)
    for i in range(1, n_macvlan + 1):
        assert kinds[f"net{i}"]["link_type"] == "ether"


def assert_leases(dirs: Dirs, delegates: list[dict[str, Any]], pod: str) -> None:
    """One host-local lease per delegate network, owned by (CID, the delegate's ifname)."""
    leases = nslab.host_local_leases(dirs.ipam)
    addrs = nslab.addresses(pod, family=4)
    assert set(leases) == {delegate_name(d) for d in delegates}
    for index, d in enumerate(delegates):
        ifname = ifname_for(index)
        held = leases[delegate_name(d)]
        assert len(held) == 1, held
        ((ip, owner),) = held.items()
        assert owner.split() == [CID, ifname]
        assert addrs[ifname] == [f"{ip}/24"]


def assert_caches_after_add(dirs: Dirs, delegates: list[dict[str, Any]]) -> None:
    """The scratch cache (0600, one entry per delegate) and libcni's result cache files."""
    mode, entries = scratch_cache(dirs, CID)
    assert mode == 0o600
    assert isinstance(entries, list)
    assert len(entries) == len(delegates)
    results = {
        f"results/{delegate_name(d)}-{CID}-{ifname_for(i)}" for i, d in enumerate(delegates)
    }
    assert set(cache_files(dirs)) == {CID, *results}


def assert_clean(w: World) -> None:
    problems = leftover_problems(w.node, w.pod, w.dirs)
    assert not problems, "\n".join(problems)


def assert_cni_error(res: nslab.CniRun, code: int, *fragments: str) -> dict[str, Any]:
    """exit 1, exactly one CNI error object on stdout with ``code``, msg has fragments."""
    assert res.rc == 1, f"rc={res.rc} stdout={res.stdout!r} stderr={res.stderr!r}"
    out = res.out
    assert isinstance(out, dict), f"stdout is not one JSON object: {res.stdout!r}"
    assert out.get("code") == code, out
    text = f"{out.get('msg', '')} {out.get('details', '')}"
    for fragment in fragments:
        assert fragment in text, out
    return out


def check_no_stray_changes(
    before: dict[str, nslab.FileState], dirs: Dirs, delegates: list[dict[str, Any]]
) -> None:
    after = nslab.snapshot(dirs.root)
    bad = unexpected_changes(before, after, [delegate_name(d) for d in delegates])
    assert not bad, f"files changed outside the delegates' and our cache: {bad}"


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("n_macvlan", [1, 3, 10])
def test_bridge_master_plus_macvlans(w: World, n_macvlan: int) -> None:
    delegates = [bridge_conf(w.version, w.dirs)] + [
        macvlan_conf(w.version, w.dirs, i) for i in range(1, n_macvlan + 1)
    ]
    conf = multus_conf(w.version, w.dirs, delegates)
    before = nslab.snapshot(w.dirs.root)

    assert_add_ok(w.add(conf), w.version, w.pod)
    assert_pod_interfaces(w.pod, n_macvlan)
    assert_leases(w.dirs, delegates, w.pod)
    assert_caches_after_add(w.dirs, delegates)
    assert "cni0" in w.node.link_names()

    deleted = w.delete(conf)
    assert deleted.rc == 0, deleted.stdout
    assert deleted.stdout.strip() == ""
    assert_clean(w)
    check_no_stray_changes(before, w.dirs, delegates)


@pytest.mark.parametrize("chained", ["tuning", "portmap"])
def test_conflist_master(w: World, chained: str) -> None:
    bridge = bridge_conf(w.version, w.dirs)
    extra: dict[str, Any] = {}
    if chained == "tuning":
        second: dict[str, Any] = {"type": "tuning", "mtu": 1400}
    else:
        second = {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
        extra["runtimeConfig"] = {
            "portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]
        }
    master = conflist(w.version, "cluster", [bridge, second])
    delegates = [master, macvlan_conf(w.version, w.dirs, 1)]
    conf = multus_conf(w.version, w.dirs, delegates, **extra)
    before = nslab.snapshot(w.dirs.root)

    assert_add_ok(w.add(conf), w.version, w.pod)
    assert_pod_interfaces(w.pod, 1)
    assert_leases(w.dirs, delegates, w.pod)
    assert_caches_after_add(w.dirs, delegates)
    if chained == "tuning":
        assert nslab.links(w.pod)["eth0"]["mtu"] == 1400
        assert nslab.links(w.pod)["net1"]["mtu"] == 1500
    else:
        nat = w.node.exec(["iptables-save", "-t", "nat"]).stdout.decode()
        pod_ip = nslab.addresses(w.pod, family=4)["eth0"][0].split("/")[0]
        assert "--dport 18080" in nat
        assert f"--to-destination {pod_ip}:80" in nat

    deleted = w.delete(conf)
    assert deleted.rc == 0, deleted.stdout
    assert_clean(w)
    if chained == "portmap":
        assert "18080" not in w.node.exec(["iptables-save", "-t", "nat"]).stdout.decode()
    check_no_stray_changes(before, w.dirs, delegates)


def test_third_of_four_delegates_fails(w: World) -> None:
    delegates = [
        bridge_conf(w.version, w.dirs),
        macvlan_conf(w.version, w.dirs, 1),
        macvlan_conf(w.version, w.dirs, 2, master="nosuchdev0"),
        macvlan_conf(w.version, w.dirs, 3),
    ]
    conf = multus_conf(w.version, w.dirs, delegates)
    before = nslab.snapshot(w.dirs.root)

    # The macvlan plugin reports a plain error (its skel's 999); multus keeps that code.
    out = assert_cni_error(w.add(conf), 999, 'error adding container to network "macvlan-2"')
    assert "nosuchdev0" in out["msg"] or "Link not found" in out["msg"]
    # Rolled back: only lo in the pod, no host-side veth, no lease, no result cache.
    problems = leftover_problems(w.node, w.pod, w.dirs)
    # The scratch cache stays: the rollback DEL of the broken delegate itself failed, so
    # a later DEL must be able to retry (docs/differences.md drops it only when every
    # rollback DEL succeeded).
    assert problems == [f"cache files left in cniDir: {[CID]}"], problems
    assert not (w.dirs.ipam / "macvlan-3").exists(), "delegate 4 must never run"
    check_no_stray_changes(before, w.dirs, delegates)

    # A runtime DEL afterwards reaches the broken delegate again (from the config here, from
    # the cache upstream): macvlan cannot DEL without its master, the others still run.
    deleted = w.delete(conf)
    out = assert_cni_error(deleted, 999, "DelegateDel", "Link not found")
    assert out["msg"].count("DelegateDel: error invoking") == 1, out
    assert_clean(w)
    check_no_stray_changes(before, w.dirs, delegates)


def test_del_after_config_changed(w: World) -> None:
    """DEL with a different config file still removes what ADD made (scratch cache)."""
    delegates_a = [bridge_conf(w.version, w.dirs), macvlan_conf(w.version, w.dirs, 1),
                   macvlan_conf(w.version, w.dirs, 2)]
    conf_file = w.dirs.root / "00-multus.conf"
    conf_file.write_text(json.dumps(multus_conf(w.version, w.dirs, delegates_a)))
    before = nslab.snapshot(w.dirs.root)

    assert_add_ok(w.add(conf_file.read_bytes()), w.version, w.pod)
    assert_pod_interfaces(w.pod, 2)

    delegates_b = [bridge_conf(w.version, w.dirs, name="other", bridge="cni9",
                               subnet="10.99.0.0/24")]
    conf_file.write_text(json.dumps(multus_conf(w.version, w.dirs, delegates_b)))
    deleted = w.delete(conf_file.read_bytes())
    assert deleted.rc == 0, deleted.stdout
    assert_clean(w)
    assert not (w.dirs.ipam / "other").exists(), "DEL used the new config, not the cache"
    assert "cni9" not in w.node.link_names()
    # The config file is the test's own; everything else is the delegates' or our cache.
    after = nslab.snapshot(w.dirs.root)
    bad = unexpected_changes(before, after, [delegate_name(d) for d in delegates_a])
    assert bad == ["00-multus.conf"]


def test_double_del(w: World) -> None:
    delegates = [bridge_conf(w.version, w.dirs), macvlan_conf(w.version, w.dirs, 1)]
    conf = multus_conf(w.version, w.dirs, delegates)
    before = nslab.snapshot(w.dirs.root)
    assert_add_ok(w.add(conf), w.version, w.pod)

    first = w.delete(conf)
    assert first.rc == 0, first.stdout
    second = w.delete(conf)
    assert second.rc == 0, second.stdout
    assert second.stdout.strip() == ""
    assert_clean(w)
    check_no_stray_changes(before, w.dirs, delegates)


def test_del_without_add_succeeds(w: World) -> None:
    """No cache: delegates mode DELs the config's delegates, which find nothing to undo."""
    delegates = [bridge_conf(w.version, w.dirs), macvlan_conf(w.version, w.dirs, 1)]
    conf = multus_conf(w.version, w.dirs, delegates)
    before = nslab.snapshot(w.dirs.root)
    res = w.run("DEL", conf, "never-added", w.pod, "eth0", args=POD_ARGS)
    assert res.rc == 0, res.stdout
    assert res.stdout.strip() == ""
    assert_clean(w)
    check_no_stray_changes(before, w.dirs, delegates)


def test_version(w: World) -> None:
    conf = multus_conf(w.version, w.dirs, [bridge_conf(w.version, w.dirs)])
    res = w.run("VERSION", conf, None, None, None, args=None, path=None)
    assert res.rc == 0, res.stdout
    assert res.out == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}
    assert res.stdout.endswith("\n")
    assert cache_files(w.dirs) == []


# --------------------------------------------------------------------------- errors


def test_malformed_stdin(w: World) -> None:
    text = json.dumps(multus_conf(w.version, w.dirs, [bridge_conf(w.version, w.dirs)]))
    res = w.add(text[: len(text) // 2].encode())
    assert_cni_error(res, 6, "error unmarshall network config")
    assert_clean(w)


@pytest.mark.parametrize(
    ("command", "missing"),
    [("ADD", "CNI_NETNS"), ("ADD", "CNI_CONTAINERID"), ("DEL", "CNI_IFNAME"),
     ("ADD", "CNI_PATH")],
)
def test_missing_env(w: World, command: str, missing: str) -> None:
    conf = multus_conf(w.version, w.dirs, [bridge_conf(w.version, w.dirs)])
    values: dict[str, str | None] = {
        "CNI_CONTAINERID": CID, "CNI_NETNS": w.pod, "CNI_IFNAME": "eth0",
        "CNI_PATH": "/usr/lib/cni",
    }
    values[missing] = None
    res = w.run(
        command, conf, values["CNI_CONTAINERID"], values["CNI_NETNS"], values["CNI_IFNAME"],
        args=POD_ARGS, path=values["CNI_PATH"],
    )
    assert_cni_error(res, 4, f"required env variables [{missing}] missing")
    assert_clean(w)


def test_unknown_cni_version(w: World) -> None:
    conf = multus_conf("9.9.9", w.dirs, [bridge_conf(w.version, w.dirs)])
    assert_cni_error(w.add(conf), 1, "incompatible CNI versions", '"9.9.9"')
    assert_clean(w)


def test_type_with_path_separator_is_refused(w: World) -> None:
    """``type: ../../bin/sh`` must never be resolved, even where the path would exist."""
    bin_dir = w.dirs.root / "a" / "b"
    bin_dir.mkdir(parents=True)
    canary = w.dirs.root / "bin" / "sh"
    canary.parent.mkdir()
    marker = w.dirs.root / "canary-ran"
    canary.write_text(f"#!/bin/sh\ntouch {marker}\n")
    canary.chmod(0o755)
    evil = {"cniVersion": w.version, "name": "evil", "type": "../../bin/sh"}
    conf = multus_conf(w.version, w.dirs, [bridge_conf(w.version, w.dirs), evil])
    conf["binDir"] = str(bin_dir)

    out = assert_cni_error(w.add(conf, path=str(bin_dir)), 7, "../../bin/sh")
    assert "path separator" in out["msg"] or "invalid plugin" in out["msg"]
    assert not marker.exists(), "the path in `type` was executed"
    # The master was rolled back.
    assert_clean(w)
    # A runtime DEL meets the same refusal (and still never runs the path).
    deleted = w.delete(conf, path=str(bin_dir))
    out = assert_cni_error(deleted, 999, "../../bin/sh")
    assert "path separator" in out["msg"] or "invalid plugin" in out["msg"]
    assert not marker.exists()
    assert_clean(w)


def test_result_is_master_result_not_converted(w: World) -> None:
    """Thin multus prints the master's result in the master delegate's own version."""
    master_version = "0.3.1" if w.version != "0.3.1" else "1.0.0"
    delegates = [bridge_conf(master_version, w.dirs), macvlan_conf(w.version, w.dirs, 1)]
    conf = multus_conf(w.version, w.dirs, delegates)
    assert_add_ok(w.add(conf), master_version, w.pod)
    assert w.delete(conf).rc == 0
    assert_clean(w)


def test_plugins_found_through_cni_path(w: World, tmp_path: Path) -> None:
    """A plugin missing from binDir is found through CNI_PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    delegates = [bridge_conf(w.version, w.dirs), macvlan_conf(w.version, w.dirs, 1)]
    conf = multus_conf(w.version, w.dirs, delegates)
    conf["binDir"] = str(empty)
    assert_add_ok(w.add(conf, path="/usr/lib/cni"), w.version, w.pod)
    assert w.delete(conf, path="/usr/lib/cni").rc == 0
    assert_clean(w)
