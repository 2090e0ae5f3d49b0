"""Show, without touching the node, exactly what the Multus plugin would do for a pod."""

from __future__ import annotations

import dataclasses
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from multusctl.cli import console
from multusctl.cni import invoke
from multusctl.cni import result as cniresult
from multusctl.cni.env import CniEnv, split_args
from multusctl.errors import DecodeError, ExitStatus, IOFailure, MultusError
from multusctl.kube.memory import MemoryKube
from multusctl.plugin import commands, netconf
from multusctl.plugin.ports import KubeAPI, NullLog


class Output(StrEnum):
    table = "table"
    json = "json"


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Objects of a YAML/JSON file: multi-document streams and ``kind: List`` flattened."""
    import yaml

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IOFailure(f"cannot read {path}: {exc}") from None
    try:
        docs = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError as exc:
        raise DecodeError(f"{path}: not valid YAML/JSON: {exc}") from None
    out: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            out.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
        elif isinstance(doc, dict):
            out.append(doc)
    return out


def _pod_env(pod: dict[str, Any], ifname: str) -> CniEnv:
    meta = pod.get("metadata") or {}
    args = (
        f"IgnoreUnknown=1;K8S_POD_NAMESPACE={meta.get('namespace') or 'default'};"
        f"K8S_POD_NAME={meta.get('name', '')};K8S_POD_INFRA_CONTAINER_ID=explain;"
        f"K8S_POD_UID={meta.get('uid', '')}"
    )
    return CniEnv(
        command="ADD",
        container_id="explain",
        netns="",
        ifname=ifname,
        args=args,
        arg_pairs=tuple(split_args(args)),
    )


def explain(
    pod: dict[str, Any], conf: netconf.NetConf, kube: KubeAPI, ifname: str = "eth0"
) -> dict[str, Any]:
    """The plan of an ADD for ``pod`` as a JSON-ready dict (raises MultusError)."""
    meta = pod.get("metadata") or {}
    req = commands.Request(
        env=_pod_env(pod, ifname),
        conf=conf,
        environ={},
        log=NullLog(),
        kube=kube,
        existing_links=lambda _netns, _names: set(),
    )
    plan = commands.plan_add(req, wait=False)
    name = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
    if plan is None:
        return {"pod": name, "selections": [], "delegates": []}
    from multusctl.plugin import k8s, selection

    annots = meta.get("annotations") or {}
    selections = [
        s.to_json()
        for s in selection.parse_networks(
            str(annots.get(k8s.NETWORKS_ANNOT, "")), plan.k8s.pod_namespace
        )
    ]
    delegates_out = []
    for delegate, rt in zip(plan.delegates, plan.runtime_confs, strict=True):
        network = delegate.network()
        confs = [
            invoke.build_plugin_conf(
                p, name=network.name, cni_version=network.cni_version, prev_result=None, rt=rt
            )
            for p in network.plugins
        ]
        delegates_out.append(
            {
                "name": delegate.name,
                "ifname": rt.ifname,
                "master": delegate.master,
                "conf": confs if network.is_list else confs[0],
                "runtimeConfig": dict(rt.capability_args),
                "cniArgs": rt.cni_args(),
            }
        )
    return {"pod": name, "selections": selections, "delegates": delegates_out}


def command(
    pod_file: Annotated[
        Path | None, typer.Option("--pod", help="Pod YAML/JSON file ('-' for stdin).")
    ] = None,
    nad_files: Annotated[
        list[Path] | None,
        typer.Option("--nad", help="NAD YAML/JSON file (repeatable; multi-doc and List ok)."),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="Multus config (e.g. /etc/cni/net.d/00-multus.conf)."),
    ] = None,
    cni_conf_dir: Annotated[
        Path | None,
        typer.Option("--cni-conf-dir", help="Overrides the config's confDir for file lookups."),
    ] = None,
    ifname: Annotated[str, typer.Option("--ifname", help="The runtime's CNI_IFNAME.")] = "eth0",
    from_cluster: Annotated[
        str | None,
        typer.Option("--from-cluster", help="Read this pod and its NADs from the API server."),
    ] = None,
    namespace: Annotated[
        str, typer.Option("-n", "--namespace", help="Namespace of --from-cluster.")
    ] = "default",
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="Kubeconfig for --from-cluster.")
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.table,
) -> None:
    """Dry-run the plugin's ADD for a pod: selections, delegates, their stdin and args.

    Runs the same resolution code as the plugin, minus the side effects: nothing is
    executed, cached or written. On a failure it prints the CNI error JSON the plugin
    would return, and exits 1.
    """
    if config_file is None:
        raise typer.BadParameter("--config is required", param_hint="--config")
    if (pod_file is None) == (from_cluster is None):
        raise typer.BadParameter("give exactly one of --pod or --from-cluster")
    try:
        raw_conf = config_file.read_bytes()
    except OSError as exc:
        raise IOFailure(f"cannot read {config_file}: {exc}") from None
    conf = netconf.load(raw_conf)
    if cni_conf_dir is not None:
        conf = dataclasses.replace(conf, conf_dir=str(cni_conf_dir))
    kube: KubeAPI
    if from_cluster is not None:
        from multusctl.kube import official

        kube = official.ReadOnlyKube(kubeconfig)
        pod = kube.get_pod(namespace, from_cluster, timeout=10.0)
        pod.setdefault("kind", "Pod")
    else:
        assert pod_file is not None  # noqa: S101 - checked above
        pods = [d for d in load_documents(pod_file) if d.get("kind") == "Pod"]
        if len(pods) != 1:
            raise MultusError(f"{pod_file}: expected exactly one Pod, found {len(pods)}")
        pod = pods[0]
        objects = [pod]
        for nad_file in nad_files or []:
            objects.extend(load_documents(nad_file))
        kube = MemoryKube(objects)
    try:
        plan = explain(pod, conf, kube, ifname)
    except MultusError as exc:
        sys.stdout.write(
            cniresult.error_json(exc.cni_code, exc.msg, exc.details, conf.cni_version) + "\n"
        )
        raise typer.Exit(ExitStatus.ERROR) from None
    if output is Output.json:
        sys.stdout.write(json.dumps(plan, indent=2) + "\n")
        return
    console.explain_table(plan)
