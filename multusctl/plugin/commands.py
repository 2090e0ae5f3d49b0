"""The Multus plugin commands: ADD, DEL, CHECK, STATUS and GC.

Each command takes a :class:`Request` (everything the runtime passed, already parsed) and
the collaborators it needs, and returns the result dict to print (or None). Errors are
``MultusError``s with upstream's message prefixes; the skel renders them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multusctl.cni import invoke
from multusctl.cni import result as cniresult
from multusctl.cni.env import CniEnv, K8sArgs, parse_k8s_args
from multusctl.errors import (
    DelegateError,
    InvalidConfig,
    KubeError,
    KubeNotFound,
    MultusError,
    TryAgainLater,
)
from multusctl.plugin import cache, delegates, devinfo, netns
from multusctl.plugin.delegates import Delegate
from multusctl.plugin.netconf import NetConf
from multusctl.plugin.ports import Clock, KubeAPI, Log, SystemClock

if TYPE_CHECKING:
    from multusctl.plugin import k8s as k8s_mod

READINESS_INTERVAL = 1.0
READINESS_TIMEOUT = 45.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One CNI invocation of Multus."""

    env: CniEnv
    conf: NetConf
    environ: Mapping[str, str]
    log: Log
    kube: KubeAPI | None = None
    clock: Clock = field(default_factory=SystemClock)
    stderr_sink: invoke.StderrSink | None = None
    #: Which of the given interface names already exist in the pod netns (CORE-09).
    existing_links: Callable[[str, Sequence[str]], set[str]] = netns.existing_links
    #: Builds the per-request device allocator (``resourceName`` → next device ID).
    device_allocator: Callable[[dict[str, Any]], Callable[[str], str | None]] | None = None
    #: Where device-info files live (CORE-20).
    devinfo_dir: str = "/var/run/k8s.cni.cncf.io/devinfo"
    #: Thick daemon: run delegates chrooted into the host root (THK-17); empty = no chroot.
    chroot_dir: str = ""
    #: Thick daemon: told about every delegate plugin run (per-delegate-type latency).
    delegate_observer: invoke.DelegateObserver | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What ADD will do: the delegates in order and their runtime configs."""

    k8s: K8sArgs
    pod: dict[str, Any] | None
    delegates: list[Delegate]
    runtime_confs: list[invoke.RuntimeConf]


def _executor(req: Request) -> invoke.Executor:
    bin_dirs = (req.conf.bin_dir, *req.env.path) if req.conf.bin_dir else req.env.path
    return invoke.Executor(
        bin_dirs=tuple(bin_dirs),
        base_env=req.environ,
        cache_dir=req.conf.cni_dir,
        timeout=req.conf.delegate_timeout,
        stderr_sink=req.stderr_sink,
        chroot_dir=req.chroot_dir,
        observer=req.delegate_observer,
    )


def _k8s_args(req: Request) -> K8sArgs:
    try:
        return parse_k8s_args(req.env.args)
    except MultusError as exc:
        raise exc.prefixed("Multus: error getting k8s args: ") from None


def _prefix(k8s: K8sArgs) -> str:
    return f"Multus: [{k8s.triple()}]: "


def wait_for_readiness(path: str, clock: Clock, prefix: str) -> None:
    """Poll for the readiness indicator file: now, then every second, for up to 45 s."""
    deadline = clock.monotonic() + READINESS_TIMEOUT
    while True:
        if os.path.exists(path):
            return
        if clock.monotonic() >= deadline:
            raise TryAgainLater(
                f"{prefix}have you checked that your default network is ready? still waiting "
                f"for readinessindicatorfile @ {path}. pollimmediate error: timed out waiting "
                "for the condition"
            )
        clock.sleep(READINESS_INTERVAL)


def _static_delegates(conf: NetConf) -> list[Delegate]:
    """Delegates mode: the config's ``delegates``, element 0 being the master."""
    return delegates.mark_master([delegates.from_config(raw) for raw in conf.delegates])


def _no_kube_error() -> MultusError:
    return InvalidConfig("GetDefaultNetworks: must have either Kubernetes config or delegates")


def _resolver(req: Request, k8s: K8sArgs, pod: dict[str, Any] | None) -> k8s_mod.Resolver:
    from multusctl.plugin import k8s as k8s_mod

    assert req.kube is not None  # noqa: S101 - callers check
    allocator = None
    if pod is not None and req.device_allocator is not None:
        allocator = req.device_allocator(pod)
    return k8s_mod.Resolver(
        conf=req.conf, kube=req.kube, k8s=k8s, log=req.log, pod=pod, device_ids=allocator
    )


def _base_delegates(req: Request, resolver: k8s_mod.Resolver | None) -> list[Delegate]:
    """Delegate 0 and the static extras: clusterNetwork(+defaultNetworks) or ``delegates``."""
    if req.conf.uses_cluster_network:
        if resolver is None:
            raise _no_kube_error()
        return resolver.cluster_delegates()
    return _static_delegates(req.conf)


def plan_add(req: Request, *, wait: bool = True, emit_events: bool = False) -> Plan | None:
    """Everything ADD decides before touching the node. None: the pod is gone (CORE-07).

    With ``emit_events`` the Kubernetes events of the resolution (``NoNetworkFound``) are
    sent, also when the resolution fails.
    """
    conf = req.conf
    k8s = _k8s_args(req)
    prefix = _prefix(k8s)
    if wait and conf.readiness_indicator_file:
        wait_for_readiness(conf.readiness_indicator_file, req.clock, prefix)
    pod: dict[str, Any] | None = None
    resolver: k8s_mod.Resolver | None = None
    if req.kube is not None and k8s.pod_name:
        from multusctl.plugin import k8s as k8s_mod

        try:
            pod = k8s_mod.get_pod(req.kube, k8s, req.clock, req.log, is_del=False)
        except MultusError as exc:
            raise exc.prefixed(prefix) from None
        if pod is None:
            req.log.verbose(
                f"CmdAdd: Warning: pod [{k8s.pod_namespace}/{k8s.pod_name}] not found, "
                "exiting with empty CNI result"
            )
            return None
    if req.kube is not None:
        resolver = _resolver(req, k8s, pod)
    try:
        base = _base_delegates(req, resolver)
    except MultusError as exc:
        raise exc.prefixed(f"{prefix}failed to get clusterNetwork/defaultNetworks: ") from None
    items = base
    if resolver is not None and pod is not None:
        try:
            items = resolver.pod_delegates(base)
        except MultusError as exc:
            raise exc.prefixed(f"{prefix}error loading k8s delegates k8s args: ") from None
        finally:
            if emit_events and req.kube is not None:
                for event_type, reason, message in resolver.events:
                    req.kube.create_event(pod, event_type, reason, message)
    if conf.auxiliary_cni_chain_name:
        items = items + _aux_chain(req, prefix)
    for d in items:
        delegates.validate_requests(d)
        try:
            for plugin in d.network().plugins:
                invoke.check_type(str(plugin.get("type", "")))
        except MultusError as exc:
            raise exc.prefixed(f"{prefix}delegate {d.name!r}: ") from None
    runtime_config = conf.runtime_config
    rts = _runtime_confs(req, k8s, items, runtime_config)
    return Plan(k8s=k8s, pod=pod, delegates=items, runtime_confs=rts)


def _aux_chain(req: Request, prefix: str) -> list[Delegate]:
    """CFG-21(b): passthru + ``<dir(clusterNetwork)>/<name>/*.conf`` as one extra delegate."""
    conf = req.conf
    if "/" not in conf.cluster_network:
        raise MultusError(
            f"{prefix}auxiliary chain used but ClusterNetwork must be a path, and it is not a "
            f"path: {conf.cluster_network}"
        )
    subdir = os.path.join(os.path.dirname(conf.cluster_network), conf.auxiliary_cni_chain_name)
    plugins: list[dict[str, Any]] = [{"type": "passthru", "name": "passthru-cni"}]
    try:
        for name in sorted(os.listdir(subdir)):
            if name.endswith(".conf"):
                with open(os.path.join(subdir, name), "rb") as fh:
                    plugin = json.loads(fh.read())
                if isinstance(plugin, dict):
                    plugins.append(plugin)
    except (OSError, ValueError) as exc:
        req.log.error(f"auxiliary chain {conf.auxiliary_cni_chain_name}: {exc}")
    if len(plugins) <= 1:
        return []
    raw = json.dumps(
        {
            "cniVersion": conf.cni_version,
            "name": conf.auxiliary_cni_chain_name,
            "plugins": plugins,
        }
    ).encode()
    return [Delegate(name=conf.auxiliary_cni_chain_name, raw=raw)]


def _runtime_confs(
    req: Request, k8s: K8sArgs, items: Sequence[Delegate], runtime_config: Mapping[str, Any]
) -> list[invoke.RuntimeConf]:
    return [
        delegates.runtime_conf(
            d,
            idx,
            container_id=req.env.container_id,
            netns=req.env.netns,
            runtime_ifname=req.env.ifname,
            k8s=k8s,
            env_pairs=req.env.arg_pairs,
            runtime_config=runtime_config,
        )
        for idx, d in enumerate(items)
    ]


def _check_capabilities(
    conf: NetConf, delegate: Delegate, network: invoke.NetworkList, rt: invoke.RuntimeConf
) -> None:
    if not conf.strict_capabilities or delegate.master:
        return
    missing = invoke.undeclared_capabilities(network, rt.capability_args)
    missing = [k for k in missing if k != "CNIDeviceInfoFile"]
    if missing:
        wanted = ", ".join(f'"{k}": true' for k in missing)
        raise InvalidConfig(
            f"strictCapabilities: network {network.name!r} declares no plugin capability for "
            f"the requested {', '.join(missing)}; add \"capabilities\": {{{wanted}}} to a "
            "plugin or drop the request"
        )


def _rollback(
    executor: invoke.Executor,
    items: Sequence[Delegate],
    rts: Sequence[invoke.RuntimeConf],
    upto: int,
    log: Log,
) -> bool:
    """DEL delegates ``upto``…0 in reverse, ignoring errors. True when all DELs succeeded."""
    clean = True
    for idx in range(upto, -1, -1):
        try:
            invoke.delete(executor, items[idx].network(), rts[idx])
        except MultusError as exc:
            clean = False
            log.error(f"rollback: DEL of {items[idx].name} ({rts[idx].ifname}) failed: {exc}")
        _remove_quietly(str(rts[idx].capability_args.get("CNIDeviceInfoFile", "")))
    return clean


def cmd_add(req: Request) -> dict[str, Any]:
    """ADD: attach every delegate in order; on failure roll back and report."""
    conf = req.conf
    plan = plan_add(req, emit_events=True)
    if plan is None:
        return cniresult.empty_pod_not_found_result(
            req.env.ifname, req.env.netns, conf.cni_version or "1.0.0"
        )
    k8s, items, rts = plan.k8s, plan.delegates, plan.runtime_confs
    prefix = _prefix(k8s)
    # One namespace probe for every name; a name repeated in the list collides too.
    try:
        taken = (
            req.existing_links(req.env.netns, [rt.ifname for rt in rts])
            if req.env.netns
            else set()
        )
    except MultusError as exc:
        raise exc.prefixed(prefix) from None
    try:
        cache.save(conf.cni_dir, req.env.container_id, items)
    except MultusError as exc:
        raise exc.prefixed(prefix) from None
    executor = _executor(req)
    results: list[dict[str, Any]] = []
    for idx, (delegate, rt) in enumerate(zip(items, rts, strict=True)):
        network = delegate.network()
        try:
            _check_capabilities(conf, delegate, network, rt)
            if rt.ifname in taken:
                kind = "" if network.is_list else str(network.plugins[0].get("type", ""))
                raise MultusError(
                    f'DelegateAdd: cannot set "{kind}" interface name to "{rt.ifname}": '
                    f"validateIfName: interface name {rt.ifname} already exists"
                )
            taken.add(rt.ifname)
            _copy_devinfo(req, delegate, rt)
            result = invoke.add(executor, network, rt)
        except MultusError as exc:
            clean = _rollback(executor, items, rts, idx, req.log)
            if clean:
                cache.remove(conf.cni_dir, req.env.container_id)
            raise _add_error(exc, k8s, network.name) from None
        req.log.verbose(
            f"Add: {k8s.pod_namespace}:{k8s.pod_name}:{k8s.pod_uid or 'unknownUID'}:"
            f"{delegate.name}({network.name}):{rt.ifname} {json.dumps(result)}"
        )
        if req.kube is not None and plan.pod is not None and _has_addresses(result):
            req.kube.create_event(
                plan.pod, "Normal", "AddedInterface", _added_message(rt.ifname, delegate, result)
            )
        results.append(result)
    status_results = _apply_default_routes(req, items, rts, results, prefix)
    if req.kube is not None and plan.pod is not None:
        _write_network_status(req, plan, status_results, prefix)
    return next((r for d, r in zip(items, results, strict=True) if d.master), results[0])


def _has_addresses(result: Mapping[str, Any]) -> bool:
    return bool(result.get("interfaces") or result.get("ips") or result.get("ip4")
                or result.get("ip6"))


def _added_message(ifname: str, delegate: Delegate, result: Mapping[str, Any]) -> str:
    converted = cniresult.convert(result, "1.0.0")
    ips = " ".join(str(ip.get("address", "")) for ip in converted.get("ips") or [])
    if delegate.name:
        return f"Add {ifname} [{ips}] from {delegate.name}"
    return f"Add {ifname} [{ips}]"


def _copy_devinfo(req: Request, delegate: Delegate, rt: invoke.RuntimeConf) -> None:
    """CORE-20: the device plugin's devinfo file becomes the attachment's devinfo file."""
    target = str(rt.capability_args.get("CNIDeviceInfoFile", ""))
    if not (target and delegate.device_id and delegate.resource_name):
        return
    try:
        devinfo.copy_from_dp(
            target, delegate.resource_name, delegate.device_id, base=req.devinfo_dir
        )
    except MultusError as exc:
        req.log.debug(f"cmdAdd: CopyDeviceInfoForCNIFromDP returned an error - err={exc}")


def _load_devinfo(rt: invoke.RuntimeConf) -> dict[str, Any] | None:
    path = str(rt.capability_args.get("CNIDeviceInfoFile", ""))
    if not path:
        return None
    try:
        return devinfo.load(path)
    except MultusError:
        return None


def _apply_default_routes(
    req: Request,
    items: Sequence[Delegate],
    rts: Sequence[invoke.RuntimeConf],
    results: list[dict[str, Any]],
    prefix: str,
) -> list[dict[str, Any]]:
    """CORE-14: replace default routes per request; returns results as the pod sees them."""
    if not any(d.default_route is not None for d in items):
        return results
    from multusctl.plugin import k8s as k8s_mod

    adjusted: list[dict[str, Any]] = []
    for delegate, rt, result in zip(items, rts, results, strict=True):
        drop, gateways = k8s_mod.default_route_plan(delegate, result)
        if not drop and not gateways:
            adjusted.append(result)
            continue
        for family in sorted(drop):
            everything = "0.0.0.0/0" if family == 4 else "::/0"
            status, out = netns.run_in_netns(
                req.env.netns, ["ip", f"-{family}", "route", "flush", "exact", everything,
                                "dev", rt.ifname]
            )
            if status != 0:
                raise MultusError(f"{prefix}error deleting default gateway: {out}")
        for gw in gateways:
            family = 6 if ":" in gw else 4
            status, out = netns.run_in_netns(
                req.env.netns,
                ["ip", f"-{family}", "route", "add", "default", "via", gw, "dev", rt.ifname],
            )
            if status != 0:
                raise MultusError(
                    f"{prefix}error setting default gateway: SetDefaultGW: {out}"
                )

        def edit(res: dict[str, Any], drop: set[int] = drop, gws: list[str] = gateways
                 ) -> dict[str, Any]:
            return _edit_default_routes(res, drop, gws)

        invoke.rewrite_cached_result(req.conf.cni_dir, delegate.network().name, rt, edit)
        adjusted.append(_edit_default_routes(result, drop, gateways))
    return adjusted


def _edit_default_routes(
    result: Mapping[str, Any], drop: set[int], gateways: Sequence[str]
) -> dict[str, Any]:
    """The result with default routes of ``drop`` families removed and ``gateways`` added."""
    import ipaddress

    converted = cniresult.convert(result, "1.0.0")
    routes = []
    for route in converted.get("routes") or []:
        try:
            net = ipaddress.ip_network(str(route.get("dst", "")), strict=False)
        except ValueError:
            routes.append(route)
            continue
        if net.prefixlen == 0 and net.version in drop:
            continue
        routes.append(route)
    routes.extend({"dst": "::/0" if ":" in gw else "0.0.0.0/0", "gw": gw} for gw in gateways)
    converted["routes"] = routes
    return cniresult.convert(converted, cniresult.result_version(result))


def _write_network_status(
    req: Request, plan: Plan, results: Sequence[Mapping[str, Any]], prefix: str
) -> None:
    """ANN-08: one PATCH of ``pods/status``; a pod deleted meanwhile is tolerated."""
    from multusctl.plugin import k8s as k8s_mod

    assert req.kube is not None  # noqa: S101 - caller checks
    assert plan.pod is not None  # noqa: S101 - caller checks
    from multusctl.plugin import status as status_mod

    if status_mod.skip_status(plan.k8s.pod_namespace, req.conf.system_namespaces):
        return
    entries: list[dict[str, Any]] = []
    for delegate, rt, result in zip(plan.delegates, plan.runtime_confs, results, strict=True):
        entries.extend(
            status_mod.entries_for(delegate.name, delegate.master, result, _load_devinfo(rt))
        )
    if not entries:
        return
    meta = plan.pod.get("metadata") or {}
    uid = "" if k8s_mod.is_static_pod(plan.pod) else str(meta.get("uid", ""))
    try:
        req.kube.set_network_status(
            plan.k8s.pod_namespace, plan.k8s.pod_name, uid, status_mod.render(entries)
        )
    except KubeNotFound as exc:
        req.log.verbose(f"pod deleted before its network-status could be written: {exc}")
    except KubeError as exc:
        raise MultusError(
            f"{prefix}error setting the networks status: SetPodNetworkStatusAnnotation: failed "
            f"to update the pod {plan.k8s.pod_name} in out of cluster comm: SetNetworkStatus: "
            f"failed to update the pod {plan.k8s.pod_name} in out of cluster comm: status "
            f"update failed for pod {plan.k8s.pod_namespace}/{plan.k8s.pod_name}: {exc}",
            code=exc.cni_code,
        ) from None


def _add_error(exc: MultusError, k8s: K8sArgs, network: str) -> MultusError:
    msg = f'[{k8s.triple()}:{network}]: error adding container to network "{network}": {exc.msg}'
    if isinstance(exc, DelegateError):
        return DelegateError(msg, exc.details, code=exc.cni_code, plugin=exc.plugin,
                             network=network)
    return MultusError(msg, exc.details, code=exc.cni_code)


def _delegates_for_del(req: Request, k8s: K8sArgs) -> list[Delegate] | None:
    """The cached delegates; without a cache, rebuilt from the pod (or the config)."""
    from multusctl.plugin import k8s as k8s_mod

    conf = req.conf
    try:
        cached = cache.load(conf.cni_dir, req.env.container_id)
    except (OSError, ValueError) as exc:
        req.log.error(
            f"Multus: failed to get the cached delegates file: {exc}, cannot properly delete"
        )
        return None
    if cached is not None:
        return [
            dataclasses.replace(d, raw=delegates.with_cni_version(d.raw, conf.cni_version))
            for d in cached
        ]
    pod: dict[str, Any] | None = None
    if req.kube is not None and k8s.pod_name:
        try:
            pod = k8s_mod.get_pod(req.kube, k8s, req.clock, req.log, is_del=True)
        except MultusError as exc:
            req.log.verbose(f"Multus: GetPod failed: {exc}, but continue to delete")
    if pod is not None:
        resolver = _resolver(req, k8s, pod)
        try:
            base = _base_delegates(req, resolver)
        except MultusError as exc:
            raise exc.prefixed(
                f"{_prefix(k8s)}failed to get clusterNetwork/defaultNetworks: "
            ) from None
        try:
            return resolver.pod_delegates(base)
        except MultusError as exc:
            req.log.error(f"failed to get delegates: {exc}; deleting the cluster network only")
            return base
    if conf.uses_cluster_network:
        req.log.error(
            "Multus: failed to get the cached delegates file: no cache and no pod, "
            "cannot properly delete"
        )
        return None
    # Upstream returns success here without calling any delegate (BUG-20); in delegates
    # mode the config names the delegates, so DEL them: plugins must tolerate repeats.
    return _static_delegates(conf)


def cmd_del(req: Request) -> None:
    """DEL: every delegate in reverse, keep going on failure, aggregate the errors."""
    conf = req.conf
    k8s = _k8s_args(req)
    prefix = _prefix(k8s)
    if conf.readiness_indicator_file and not os.path.exists(conf.readiness_indicator_file):
        req.log.verbose(
            f"warning: readinessindicatorfile @ {conf.readiness_indicator_file} "
            "does not exist on CNI DEL"
        )
    items = _delegates_for_del(req, k8s)
    if items is None:
        return
    from_cache = cache.path_for(conf.cni_dir, req.env.container_id).exists()
    rts = _runtime_confs(req, k8s, items, conf.runtime_config)
    executor = _executor(req)
    errors: list[str] = []
    for idx in range(len(items) - 1, -1, -1):
        delegate, rt = items[idx], rts[idx]
        try:
            network = delegate.network()
            req.log.verbose(
                f"Del: {k8s.pod_namespace}:{k8s.pod_name}:{k8s.pod_uid or 'unknownUID'}:"
                f"{network.name}:{rt.ifname} {delegate.raw.decode(errors='replace')}"
            )
            invoke.delete(executor, network, rt)
        except MultusError as exc:
            kind = _kind_label(delegate)
            errors.append(f"DelegateDel: error invoking {kind}: {exc.msg}")
        if rt.capability_args.get("CNIDeviceInfoFile"):
            _remove_quietly(str(rt.capability_args["CNIDeviceInfoFile"]))
    if from_cache and (not errors or not conf.retry_delete_on_error or any(
        "no such file or directory" in e for e in errors
    )):
        cache.remove(conf.cni_dir, req.env.container_id)
    if errors:
        raise MultusError(prefix + " / ".join(errors))


def _kind_label(delegate: Delegate) -> str:
    try:
        network = delegate.network()
    except MultusError:
        return f'DelegateDel - "{delegate.name}"'
    if network.is_list:
        return f'ConflistDel - "{network.name}"'
    return f'DelegateDel - "{network.plugins[0].get("type", "")}"'


def _remove_quietly(path: str) -> None:
    from multusctl import fsutil

    with contextlib.suppress(OSError):
        fsutil.remove_quietly(path)


def cmd_check(req: Request) -> None:
    """CHECK: what ADD attached (the cache), else the static delegates; first failure wins."""
    conf = req.conf
    k8s = _k8s_args(req)
    try:
        cached = cache.load(conf.cni_dir, req.env.container_id)
    except (OSError, ValueError):
        cached = None
    items = cached if cached is not None else (
        [] if conf.uses_cluster_network else _static_delegates(conf)
    )
    rts = _runtime_confs(req, k8s, items, conf.runtime_config)
    executor = _executor(req)
    for delegate, rt in zip(items, rts, strict=True):
        network = delegate.network()
        try:
            invoke.check(executor, network, rt)
        except MultusError as exc:
            kind = (
                f'ConflistCheck - "{network.name}"'
                if network.is_list
                else f'DelegateCheck - "{network.plugins[0].get("type", "")}"'
            )
            raise exc.prefixed(f"DelegateCheck: error invoking {kind}: ") from None


def _master(req: Request) -> Delegate:
    """STATUS/GC act on the cluster network (delegate 0), resolved without a pod."""
    resolver = _resolver(req, K8sArgs(), None) if req.kube is not None else None
    try:
        return _base_delegates(req, resolver)[0]
    except MultusError as exc:
        raise exc.prefixed("Multus: failed to get clusterNetwork: ") from None


def cmd_status(req: Request) -> None:
    """STATUS: ask the master network's plugins whether they are ready (≥ 1.1.0)."""
    if req.conf.readiness_indicator_file:
        wait_for_readiness(req.conf.readiness_indicator_file, req.clock, "Multus: ")
    network = _master(req).network()
    try:
        invoke.status(_executor(req), network)
    except DelegateError:
        raise
    except MultusError as exc:
        raise exc.prefixed("error in STATUS command: ") from None


def cmd_gc(req: Request) -> None:
    """GC: DEL stale attachments of the master network, then pass GC on (≥ 1.1.0).

    The runtime's ``cni.dev/valid-attachments`` decides what is stale (upstream ignores it
    and treats every cached attachment as valid, BUG-19).
    """
    if req.conf.readiness_indicator_file:
        wait_for_readiness(req.conf.readiness_indicator_file, req.clock, "Multus: ")
    raw_valid = req.conf.raw.get("cni.dev/valid-attachments")
    valid: list[dict[str, str]] = []
    if isinstance(raw_valid, list):
        valid = [
            {"containerID": str(a.get("containerID", "")), "ifname": str(a.get("ifname", ""))}
            for a in raw_valid
            if isinstance(a, dict)
        ]
    network = _master(req).network()
    try:
        invoke.gc(_executor(req), network, valid)
    except MultusError as exc:
        raise exc.prefixed("error in GC command: ") from None


def render_result(result: Mapping[str, Any]) -> str:
    """The master result, printed in its own version (CORE-13)."""
    return cniresult.render(result)
