"""``POST /delegate``: add, delete or check one extra interface of a running pod (THK-12).

The request has the ``/cni`` shape; ``config`` is one delegate CNI config and
``interfaceAttributes`` may carry ``mac``, ``ips`` and ``cni-args``. The interface name is
``CNI_IFNAME``. The pod must exist (also on DEL). There is no scratch cache and no
network-status update; errors are returned to the caller on every command.
"""

from __future__ import annotations

import json
import time
from typing import Any

from multusctl.cni import invoke
from multusctl.cni.env import K8sArgs
from multusctl.daemon import wire
from multusctl.daemon.service import JSON, CniService, Reply
from multusctl.errors import KubeNotFound, MultusError
from multusctl.plugin import delegates, netns
from multusctl.plugin.netconf import DEFAULT_BIN_DIR, DEFAULT_CNI_DIR


def _with_cni_args(config: bytes, cni_args: object) -> bytes:
    """NAD-08: ``cni-args`` become ``args.cni`` of the delegate config."""
    if not isinstance(cni_args, dict) or not cni_args:
        return config
    doc = invoke.decode_object(config, "failed to load the delegate configuration")
    args = doc.get("args")
    args = dict(args) if isinstance(args, dict) else {}
    current = args.get("cni")
    args["cni"] = {**(current if isinstance(current, dict) else {}), **cni_args}
    doc["args"] = args
    return json.dumps(doc).encode()


def handle(service: CniService, body: bytes) -> Reply:
    try:
        request = wire.decode_request(body)
        args = wire.extract(request.env)
    except wire.RequestError as exc:
        return Reply(400, f"{exc.msg}\n".encode())
    if args.command not in ("ADD", "DEL", "CHECK"):
        return Reply(400, f"unknown cmd type: {args.command}\n".encode())
    started = time.monotonic()
    try:
        reply = _run(service, args, request)
        ok = True
    except MultusError as exc:
        ok = False
        message = exc.msg
        if args.command == "ADD":
            message = (
                f"error configuring pod [{args.pod_namespace}/{args.pod_name}] networking: "
                f"{exc.msg}"
            )
        service.log.error(f"{args.printed()} ERRORED: {message}")
        exc.msg = message
        reply = Reply(400, wire.error_body(exc), JSON)
    if service.metrics is not None:
        service.metrics.observe_command(
            f"delegate-{args.command}", time.monotonic() - started, ok=ok
        )
    return reply


def _run(service: CniService, args: wire.CmdArgs, request: wire.WireRequest) -> Reply:
    conf = service.conf
    if service.kube is None:
        raise MultusError("the /delegate API needs Kubernetes access")
    kube = service.kube.for_request(args.pod_uid)
    try:
        pod = kube.get_pod(args.pod_namespace, args.pod_name, timeout=2.5)
    except KubeNotFound as exc:
        raise MultusError(f"pod not found: {exc}") from None
    attrs: dict[str, Any] = dict(request.interface_attributes or {})
    raw = _with_cni_args(request.config, attrs.get("cni-args"))
    ips = attrs.get("ips") or []
    delegate = delegates.from_config(raw)
    delegate = delegates.Delegate(
        name=delegate.name,
        raw=raw,
        ifname_request=args.ifname,
        mac_request=str(attrs.get("mac") or ""),
        ip_request=tuple(str(ip) for ip in ips) if isinstance(ips, list) else (),
    )
    k8s = K8sArgs(
        pod_namespace=args.pod_namespace,
        pod_name=args.pod_name,
        pod_uid=args.pod_uid or str((pod.get("metadata") or {}).get("uid", "")),
    )
    rt = delegates.runtime_conf(
        delegate, 0, container_id=args.container_id, netns=args.netns,
        runtime_ifname=args.ifname, k8s=k8s, env_pairs=args.arg_pairs, runtime_config={},
    )
    executor = invoke.Executor(
        bin_dirs=(conf.bin_dir or DEFAULT_BIN_DIR, *args.path),
        base_env=request.env,
        cache_dir=conf.cni_dir or DEFAULT_CNI_DIR,
        stderr_sink=service.stderr_sink,
        chroot_dir=conf.chroot_dir,
        observer=service.delegate_observer,
    )
    network = delegate.network()
    with service._slot():
        if args.command == "ADD":
            if args.netns and netns.link_exists(args.netns, rt.ifname):
                raise MultusError(
                    f"DelegateAdd: cannot set interface name to {rt.ifname!r}: "
                    f"validateIfName: interface name {rt.ifname} already exists"
                )
            result = invoke.add(executor, network, rt)
            kube.create_event(pod, "Normal", "AddedInterface",
                              f"Add {rt.ifname} from {delegate.name} (hot-plug)")
            return Reply(200, wire.add_response(result, request.config), JSON)
        if args.command == "DEL":
            invoke.delete(executor, network, rt)
        else:
            invoke.check(executor, network, rt)
    return Reply(200)


__all__ = ["handle"]
