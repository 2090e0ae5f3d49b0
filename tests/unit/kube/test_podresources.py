"""Resource map and allocator (NAD-06, NAD-07, HEAD-10, BUG-24): the pure parts."""

from __future__ import annotations

import json

import pytest

from multusctl.kube import podresources as pr


def _pod(name: str, ns: str, *containers: pr.ContainerResources) -> pr.PodResources:
    return pr.PodResources(name=name, namespace=ns, containers=containers)


def test_map_matches_name_and_namespace_and_appends_every_container() -> None:
    pods = [
        _pod("other", "ns", pr.ContainerResources("c", (pr.ContainerDevices("r/a", ("x",)),))),
        _pod("p", "other-ns", pr.ContainerResources("c", (pr.ContainerDevices("r/a", ("y",)),))),
        _pod(
            "p",
            "ns",
            pr.ContainerResources(
                "c1",
                (pr.ContainerDevices("intel.com/sriov", ("0000:03:02.1", "0000:03:02.0")),),
            ),
            pr.ContainerResources(
                "c2",
                (
                    pr.ContainerDevices("intel.com/sriov", ("0000:03:01.7",)),
                    pr.ContainerDevices("example.com/empty", ()),
                ),
            ),
        ),
    ]
    assert pr.map_from_pod_resources(pods, "p", "ns") == {
        "intel.com/sriov": ["0000:03:01.7", "0000:03:02.0", "0000:03:02.1"],
        "example.com/empty": [],
    }


def test_map_dra_class_name_and_cdi_suffix() -> None:
    logged: list[str] = []
    dyn = pr.DynamicResource(
        class_name="gpu.example.com",
        claim_name="claim",
        claim_namespace="ns",
        cdi_devices=("example.com/gpu=gpu-7", "broken", "a=b=c", "example.com/gpu=gpu-1"),
    )
    pods = [_pod("p", "ns", pr.ContainerResources("c", (), (dyn,)))]
    got = pr.map_from_pod_resources(pods, "p", "ns", log_error=logged.append)
    assert got == {"gpu.example.com": ["gpu-1", "gpu-7"]}
    assert logged == ["GetPodResourceMap: Invalid CDI format"] * 2


@pytest.mark.parametrize(("name", "ns"), [("", "ns"), ("p", "")])
def test_map_needs_pod_name_and_namespace(name: str, ns: str) -> None:
    with pytest.raises(pr.PodResourcesError) as err:
        pr.map_from_pod_resources([], name, ns)
    assert err.value.msg == "GetPodResourceMap: Pod name or namespace cannot be empty"


def test_cdi_device_id() -> None:
    assert pr.cdi_device_id("vendor.com/class=dev0") == "dev0"
    assert pr.cdi_device_id("vendor.com/class=") == ""
    assert pr.cdi_device_id("no-equals") is None
    assert pr.cdi_device_id("a=b=c") is None


CHECKPOINT = {
    "Data": {
        "PodDeviceEntries": [
            {
                "PodUID": "uid-1",
                "ContainerName": "c1",
                "ResourceName": "intel.com/sriov",
                "DeviceIDs": {"1": ["b"], "0": ["c", "a"]},
                "AllocResp": "CgA=",
            },
            {
                "PodUID": "uid-2",
                "ContainerName": "c1",
                "ResourceName": "intel.com/sriov",
                "DeviceIDs": {"0": ["z"]},
            },
            {
                "PodUID": "uid-1",
                "ContainerName": "c2",
                "ResourceName": "example.com/old",
                "DeviceIDs": ["y", "x"],
            },
        ],
        "RegisteredDevices": {"intel.com/sriov": ["a", "b", "c", "z"]},
    },
    "Checksum": 12345,
}


def test_checkpoint_matched_by_uid_flattened_and_sorted() -> None:
    entries = pr.parse_checkpoint(json.dumps(CHECKPOINT).encode())
    assert len(entries) == 3
    assert pr.map_from_checkpoint(entries, "uid-1") == {
        "intel.com/sriov": ["a", "b", "c"],
        "example.com/old": ["x", "y"],
    }
    assert pr.map_from_checkpoint(entries, "uid-3") == {}


def test_checkpoint_needs_uid() -> None:
    with pytest.raises(pr.PodResourcesError) as err:
        pr.map_from_checkpoint([], "")
    assert err.value.msg == "GetPodResourceMap: invalid Pod cannot be empty"


def test_checkpoint_without_entries() -> None:
    assert pr.parse_checkpoint(b'{"Data":{"PodDeviceEntries":null},"Checksum":1}') == []
    assert pr.parse_checkpoint(b"{}") == []


@pytest.mark.parametrize(
    "doc",
    [
        b"[]",
        b'{"Data": []}',
        b'{"Data": {"PodDeviceEntries": {}}}',
        b'{"Data": {"PodDeviceEntries": [1]}}',
        b'{"Data": {"PodDeviceEntries": [{"PodUID": 5}]}}',
        b'{"Data": {"PodDeviceEntries": [{"DeviceIDs": {"0": [1]}}]}}',
        b'{"Data": {"PodDeviceEntries": [{"DeviceIDs": "a"}]}}',
        b"not json",
    ],
)
def test_checkpoint_malformed(doc: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        pr.parse_checkpoint(doc)


def test_allocator_hands_out_each_device_once() -> None:
    alloc = pr.Allocator({"r": ["id0", "id1"], "s": []})
    assert alloc.take("r") == "id0"
    assert alloc.take("s") is None
    assert alloc.take("r") == "id1"
    assert alloc.take("r") is None
    assert alloc.take("unknown") is None


def test_allocator_loader_runs_once_on_first_need() -> None:
    calls: list[int] = []

    def load() -> dict[str, list[str]]:
        calls.append(1)
        return {"r": ["id0", "id1"]}

    alloc = pr.Allocator(loader=load)
    assert not alloc.loaded
    assert calls == []
    # Shared by the cluster network, defaultNetworks and annotation networks (BUG-24).
    assert [alloc.take("r"), alloc.take("r"), alloc.take("r")] == ["id0", "id1", None]
    assert calls == [1]
    assert alloc.loaded


def test_allocator_loader_error_propagates() -> None:
    def load() -> dict[str, list[str]]:
        raise pr.PodResourcesError("boom")

    with pytest.raises(pr.PodResourcesError, match="boom"):
        pr.Allocator(loader=load).take("r")


def test_allocator_needs_exactly_one_source() -> None:
    with pytest.raises(TypeError):
        pr.Allocator()
    with pytest.raises(TypeError):
        pr.Allocator({}, loader=dict)


def test_go_status_rendering() -> None:
    assert pr._go_status("UNAVAILABLE", "x") == "rpc error: code = Unavailable desc = x"
    assert pr._go_status("DEADLINE_EXCEEDED", "y") == (
        "rpc error: code = DeadlineExceeded desc = y"
    )
    assert pr._go_status("OK", "") == "rpc error: code = OK desc = "


def test_from_proto_reads_every_field() -> None:
    from multusctl.kube._podresources import podresources_v1_pb2 as pb

    msg = pb.ListPodResourcesResponse(
        pod_resources=[
            pb.PodResources(
                name="p",
                namespace="ns",
                containers=[
                    pb.ContainerResources(
                        name="c",
                        devices=[pb.ContainerDevices(resource_name="r", device_ids=["a", "b"])],
                        cpu_ids=[1, 2],
                        dynamic_resources=[
                            pb.DynamicResource(
                                class_name="k",
                                claim_name="cl",
                                claim_namespace="ns",
                                claim_resources=[
                                    pb.ClaimResource(cdi_devices=[pb.CDIDevice(name="v/k=1")]),
                                    pb.ClaimResource(cdi_devices=[pb.CDIDevice(name="v/k=2")]),
                                ],
                            )
                        ],
                    )
                ],
            )
        ]
    )
    decoded = pb.ListPodResourcesResponse.FromString(msg.SerializeToString())
    assert pr.from_proto(decoded) == [
        pr.PodResources(
            "p",
            "ns",
            (
                pr.ContainerResources(
                    "c",
                    (pr.ContainerDevices("r", ("a", "b")),),
                    (pr.DynamicResource("k", "cl", "ns", ("v/k=1", "v/k=2")),),
                ),
            ),
        )
    ]


def test_proto_field_numbers_match_the_kubelet_api() -> None:
    """Field numbers are the wire contract; pin them against k8s.io/kubelet's api.proto."""
    from multusctl.kube._podresources import podresources_v1_pb2 as pb

    def numbers(message: type) -> dict[str, int]:
        desc = message.DESCRIPTOR  # type: ignore[attr-defined]
        return {f.name: f.number for f in desc.fields}

    assert numbers(pb.ListPodResourcesResponse) == {"pod_resources": 1}
    assert numbers(pb.PodResources) == {"name": 1, "namespace": 2, "containers": 3}
    assert numbers(pb.ContainerResources) == {
        "name": 1,
        "devices": 2,
        "cpu_ids": 3,
        "memory": 4,
        "dynamic_resources": 5,
    }
    assert numbers(pb.ContainerDevices) == {"resource_name": 1, "device_ids": 2, "topology": 3}
    assert numbers(pb.DynamicResource) == {
        "class_name": 1,
        "claim_name": 2,
        "claim_namespace": 3,
        "claim_resources": 4,
    }
    assert numbers(pb.ClaimResource)["cdi_devices"] == 1
    assert numbers(pb.CDIDevice) == {"name": 1}
    service = pb.DESCRIPTOR.services_by_name["PodResourcesLister"]
    assert f"/{service.full_name}/{service.methods_by_name['List'].name}" == pr.LIST_METHOD
