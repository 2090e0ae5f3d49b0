"""The PodResources client against a real gRPC server on a unix socket, and the checkpoint.

No kubelet runs here: a small ``grpc.server`` serves ``v1.PodResourcesLister/List`` from
the generated messages, on a socket in a tmp dir; the checkpoint is a tmp file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from multusctl.kube import podresources as pr
from multusctl.kube._podresources import podresources_v1_pb2 as pb

pytestmark = pytest.mark.integration


@dataclass
class FakeKubelet:
    """What the fake kubelet answers, and how often it was asked."""

    socket: str
    response: pb.ListPodResourcesResponse = field(default_factory=pb.ListPodResourcesResponse)
    abort: tuple[grpc.StatusCode, str] | None = None
    calls: int = 0

    def list(
        self, request: pb.ListPodResourcesRequest, context: grpc.ServicerContext
    ) -> pb.ListPodResourcesResponse:
        self.calls += 1
        if self.abort is not None:
            context.abort(*self.abort)
        return self.response


@pytest.fixture
def short_dir() -> Iterator[str]:
    """A short tmp dir: unix socket paths are limited to 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="pr-", dir="/tmp") as d:
        yield d


@pytest.fixture
def kubelet(short_dir: str) -> Iterator[FakeKubelet]:
    fake = FakeKubelet(socket=os.path.join(short_dir, "kubelet.sock"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler(
        "v1.PodResourcesLister",
        {
            "List": grpc.unary_unary_rpc_method_handler(
                fake.list,
                request_deserializer=pb.ListPodResourcesRequest.FromString,
                response_serializer=pb.ListPodResourcesResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    assert server.add_insecure_port("unix:" + fake.socket) != 0
    server.start()
    try:
        yield fake
    finally:
        server.stop(grace=None).wait()


def _sriov_pod(name: str, ns: str, *groups: tuple[str, list[str]]) -> pb.PodResources:
    return pb.PodResources(
        name=name,
        namespace=ns,
        containers=[
            pb.ContainerResources(
                name=f"c{i}",
                devices=[pb.ContainerDevices(resource_name=res, device_ids=ids)],
                cpu_ids=[i],
            )
            for i, (res, ids) in enumerate(groups)
        ],
    )


def test_two_nads_with_the_same_resource_get_id0_and_id1(kubelet: FakeKubelet) -> None:
    kubelet.response = pb.ListPodResourcesResponse(
        pod_resources=[
            _sriov_pod("other", "ns", ("intel.com/sriov", ["0000:99:00.0"])),
            _sriov_pod(
                "web",
                "ns",
                ("intel.com/sriov", ["0000:03:02.1", "0000:03:02.0"]),
                ("intel.com/sriov", ["0000:03:01.5"]),
            ),
        ]
    )
    alloc = pr.allocator_for_pod(
        "web",
        "ns",
        "uid-ignored-by-grpc",
        socket_path=kubelet.socket,
        checkpoint_path="/nonexistent",
    )
    assert kubelet.calls == 0  # nothing asked before the first NAD needs a device
    # Sorted across containers (HEAD-10), one map for every network of the request (BUG-24).
    assert alloc.take("intel.com/sriov") == "0000:03:01.5"
    assert alloc.take("intel.com/sriov") == "0000:03:02.0"
    assert alloc.take("intel.com/sriov") == "0000:03:02.1"
    assert alloc.take("intel.com/sriov") is None
    assert alloc.take("example.com/absent") is None
    assert kubelet.calls == 1


def test_dra_dynamic_resource(kubelet: FakeKubelet) -> None:
    kubelet.response = pb.ListPodResourcesResponse(
        pod_resources=[
            pb.PodResources(
                name="gpu",
                namespace="ml",
                containers=[
                    pb.ContainerResources(
                        name="c",
                        dynamic_resources=[
                            pb.DynamicResource(
                                class_name="sriov.example.com",
                                claim_name="nic",
                                claim_namespace="ml",
                                claim_resources=[
                                    pb.ClaimResource(
                                        cdi_devices=[
                                            pb.CDIDevice(name="example.com/nic=vf-3"),
                                            pb.CDIDevice(name="malformed"),
                                        ]
                                    )
                                ],
                            )
                        ],
                    )
                ],
            )
        ]
    )
    errors: list[str] = []
    got = pr.resource_map("gpu", "ml", "", socket_path=kubelet.socket, log_error=errors.append)
    assert got == {"sriov.example.com": ["vf-3"]}
    assert errors == ["GetPodResourceMap: Invalid CDI format"]
    assert pr.Allocator(got).take("sriov.example.com") == "vf-3"


def test_pod_without_entries_has_an_empty_map(kubelet: FakeKubelet) -> None:
    assert pr.resource_map("nobody", "ns", "", socket_path=kubelet.socket) == {}


def test_kubelet_error_status_is_reported_like_upstream(kubelet: FakeKubelet) -> None:
    kubelet.abort = (grpc.StatusCode.UNAVAILABLE, "kubelet busy")
    with pytest.raises(pr.PodResourcesError) as err:
        pr.resource_map("p", "ns", "u", socket_path=kubelet.socket)
    assert err.value.msg == (
        "getKubernetesDelegate: failed to get a ResourceClient instance: "
        "getKubeletClient: error getting pod resources from client: "
        f"getPodResources: failed to list pod resources, &{{unix:{kubelet.socket}}}.Get(_) = _, "
        "rpc error: code = Unavailable desc = kubelet busy\n"
    )


def test_pod_identity_error_wrapped_as_resource_map_failure(kubelet: FakeKubelet) -> None:
    with pytest.raises(pr.PodResourcesError) as err:
        pr.resource_map("", "ns", "u", socket_path=kubelet.socket)
    assert err.value.msg == (
        "getKubernetesDelegate: failed to get resourceMap from ResourceClient: "
        "GetPodResourceMap: Pod name or namespace cannot be empty"
    )


def test_response_above_the_receive_limit_is_refused(kubelet: FakeKubelet) -> None:
    kubelet.response = pb.ListPodResourcesResponse(
        pod_resources=[_sriov_pod("p", "ns", ("r", [f"dev-{i}" for i in range(100)]))]
    )
    with pytest.raises(pr.PodResourcesError, match="code = ResourceExhausted"):
        pr.list_pod_resources(kubelet.socket, max_receive_bytes=64)
    assert len(pr.list_pod_resources(kubelet.socket)[0].containers[0].devices[0].device_ids) == 100


def test_dead_socket_fails_fast(short_dir: str) -> None:
    """A socket file nobody listens on: the call fails at once (no fallback, no 10 s wait)."""
    import socket as pysocket

    path = os.path.join(short_dir, "kubelet.sock")
    sock = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
    sock.bind(path)
    sock.close()  # leaves the socket file behind, like a crashed kubelet
    start = time.monotonic()
    with pytest.raises(pr.PodResourcesError, match=r"code = Unavailable desc = "):
        pr.resource_map("p", "ns", "u", socket_path=path, checkpoint_path="/nonexistent")
    assert time.monotonic() - start < 5


CHECKPOINT: dict[str, Any] = {
    "Data": {
        "PodDeviceEntries": [
            {
                "PodUID": "uid-1",
                "ContainerName": "c",
                "ResourceName": "intel.com/sriov",
                "DeviceIDs": {"0": ["b", "a"]},
                "AllocResp": "",
            },
            {
                "PodUID": "uid-2",
                "ContainerName": "c",
                "ResourceName": "intel.com/sriov",
                "DeviceIDs": {"0": ["z"]},
            },
        ],
        "RegisteredDevices": {"intel.com/sriov": ["a", "b", "z"]},
    },
    "Checksum": 42,
}


def test_checkpoint_fallback_when_the_socket_is_missing(tmp_path: Path) -> None:
    ckpt = tmp_path / "kubelet_internal_checkpoint"
    ckpt.write_text(json.dumps(CHECKPOINT))
    debug: list[str] = []
    alloc = pr.allocator_for_pod(
        "p",
        "ns",
        "uid-1",
        socket_path=str(tmp_path / "no.sock"),
        checkpoint_path=str(ckpt),
        log_debug=debug.append,
    )
    # Matched by UID; IDs ["b","a"] → first NAD gets "a" (HEAD-10).
    assert [alloc.take("intel.com/sriov"), alloc.take("intel.com/sriov")] == ["a", "b"]
    assert alloc.take("intel.com/sriov") is None
    assert debug == ["GetResourceClient: using Kubelet device plugin checkpoint"]


def test_checkpoint_missing(tmp_path: Path) -> None:
    path = str(tmp_path / "kubelet_internal_checkpoint")
    with pytest.raises(pr.PodResourcesError) as err:
        pr.resource_map("p", "ns", "u", socket_path=str(tmp_path / "x"), checkpoint_path=path)
    assert err.value.msg == (
        "getKubernetesDelegate: failed to get a ResourceClient instance: "
        f"getPodEntries: error reading file {path}\nopen {path}: no such file or directory\n"
    )


def test_checkpoint_garbage(tmp_path: Path) -> None:
    ckpt = tmp_path / "kubelet_internal_checkpoint"
    ckpt.write_text("{not json")
    with pytest.raises(pr.PodResourcesError) as err:
        pr.resource_map("p", "ns", "u", socket_path=str(tmp_path / "x"), checkpoint_path=str(ckpt))
    assert err.value.msg.startswith(
        "getKubernetesDelegate: failed to get a ResourceClient instance: "
        "getPodEntries: error unmarshalling raw bytes "
    )


def test_checkpoint_needs_the_pod_uid(tmp_path: Path) -> None:
    ckpt = tmp_path / "kubelet_internal_checkpoint"
    ckpt.write_text(json.dumps(CHECKPOINT))
    with pytest.raises(pr.PodResourcesError) as err:
        pr.resource_map("p", "ns", "", socket_path=str(tmp_path / "x"), checkpoint_path=str(ckpt))
    assert err.value.msg == (
        "getKubernetesDelegate: failed to get resourceMap from ResourceClient: "
        "GetPodResourceMap: invalid Pod cannot be empty"
    )


def test_grpc_is_not_imported_unless_the_socket_is_used(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.write_text(json.dumps(CHECKPOINT))
    code = (
        "import sys\n"
        "import multusctl.kube.podresources as pr, multusctl.plugin.devinfo\n"
        f"m = pr.resource_map('p', 'ns', 'uid-1', socket_path='/nonexistent', "
        f"checkpoint_path={str(ckpt)!r})\n"
        "assert m == {'intel.com/sriov': ['a', 'b']}, m\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'grpc', 'google'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
