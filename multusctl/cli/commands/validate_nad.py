"""Check NetworkAttachmentDefinitions (files, dirs, stdin or the cluster) before pods fail."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from multusctl.cli import console
from multusctl.cli.manifests import Document, InputError, documents, expand, parse, read_text
from multusctl.nad.findings import Finding, NadReport
from multusctl.nad.validate import API_VERSION, KIND, cross_check, validate_nad

GROUP, VERSION = API_VERSION.split("/")
PLURAL = "network-attachment-definitions"
REQUEST_TIMEOUT = 30
PAGE_SIZE = 500
#: Above this many objects without findings, the text table lists only objects with findings
#: (a terminal cannot show 10,000 rows usefully, and rendering them takes seconds).
MAX_CLEAN_ROWS = 200


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


def command(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="YAML/JSON files, directories (searched recursively for *.yaml, *.yml, "
            "*.json) or - for stdin.",
            show_default=False,
        ),
    ] = None,
    from_cluster: Annotated[
        bool, typer.Option("--from-cluster", help="Also validate the NADs in the cluster.")
    ] = False,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Namespace for --from-cluster "
                     "(default: the kubeconfig context's, else default).", show_default=False),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="With --from-cluster: every namespace.")
    ] = False,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="Kubeconfig for --from-cluster "
                     "(default: $KUBECONFIG, ~/.kube/config, in-cluster).", show_default=False),
    ] = None,
    cni_bin_dir: Annotated[
        list[str] | None,
        typer.Option("--cni-bin-dir", help="Check that every plugin type is an executable "
                     "here (repeatable).", show_default=False),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as failures (exit 1).")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="Output format.")
    ] = OutputFormat.text,
) -> None:
    """Check NetworkAttachmentDefinitions before a pod fails on them.

    Exit status: 0 all valid, 1 errors found (or warnings with --strict), 2 usage or
    input problem.
    """
    paths = paths or []
    if not paths and not from_cluster:
        raise InputError("give files, directories, - (stdin) or --from-cluster")
    if (namespace or all_namespaces) and not from_cluster:
        raise InputError("-n/--namespace and -A/--all-namespaces need --from-cluster")
    if namespace and all_namespaces:
        raise InputError("-n/--namespace and -A/--all-namespaces exclude each other")
    if paths.count("-") > 1:
        raise InputError("stdin (-) can be given only once")

    docs, notes = _read_inputs(paths)
    if from_cluster:
        docs.extend(_cluster_documents(kubeconfig, namespace, all_namespaces=all_namespaces))

    bin_dirs = list(cni_bin_dir) if cni_bin_dir else None
    reports: list[NadReport] = []
    for doc in docs:
        skip = _skip_reason(doc.obj)
        if skip:
            if skip != "empty":
                notes.append(f"{doc.label}: skipped, {skip}")
            continue
        reports.append(validate_nad(doc.obj, doc.label, bin_dirs=bin_dirs, strict=strict))
    reports = _merge(reports, cross_check(reports))
    if not reports:
        notes.append("no NetworkAttachmentDefinitions found")
    for note in notes:
        console.note_line(note)

    valid = all(_passes(r, strict=strict) for r in reports)
    if output is OutputFormat.json:
        console.print_json_records(json_payload(reports, strict=strict), "results")
    else:
        _print_text(reports, strict=strict)
    raise typer.Exit(0 if valid else 1)


def json_payload(reports: list[NadReport], *, strict: bool) -> dict[str, Any]:
    """The ``--output json`` envelope (pinned by tests/integration's contract test)."""
    results = [
        {
            "source": r.source,
            "namespace": r.namespace,
            "name": r.name,
            "valid": _passes(r, strict=strict),
            "errors": [{"path": f.path, "message": f.message} for f in r.errors],
            "warnings": [{"path": f.path, "message": f.message} for f in r.warnings],
        }
        for r in reports
    ]
    return {"valid": all(item["valid"] for item in results), "results": results}


def _passes(report: NadReport, *, strict: bool) -> bool:
    return report.valid and not (strict and report.warnings)


def _merge(reports: list[NadReport], extra: list[Finding]) -> list[NadReport]:
    if not extra:
        return reports
    by_label: dict[str, list[Finding]] = {}
    for f in extra:
        by_label.setdefault(f.object, []).append(f)
    return [r.with_findings(tuple(by_label.get(r.source, ()))) for r in reports]


def _skip_reason(obj: object) -> str:
    """Why a document is not validated as a NAD ("" when it is one, or claims to be)."""
    if obj is None:
        return "empty"
    if not isinstance(obj, dict):
        return "not an object"
    kind = obj.get("kind")
    if kind is None or kind == KIND:
        return ""
    api_version = obj.get("apiVersion")
    if isinstance(api_version, str) and api_version.split("/")[0] == GROUP:
        return ""  # our API group with a mistyped kind: validate, so the kind is reported
    return f"kind {kind} is not a {KIND}"


def _read_inputs(paths: list[str]) -> tuple[list[Document], list[str]]:
    files, notes = expand(paths)
    stdin_text = sys.stdin.read() if "-" in files else None
    docs: list[Document] = []
    for path in files:
        text = read_text(path, stdin_text)
        docs.extend(documents(path, parse(path, text)))
    return docs, notes


# --- text output --------------------------------------------------------------------------


def _print_text(reports: list[NadReport], *, strict: bool) -> None:
    if not reports:
        return
    rows: list[list[str]] = []
    styles: list[str] = []
    ends: list[bool] = []
    errors = warnings = failed = hidden = 0
    show_clean = sum(1 for r in reports if not r.findings) <= MAX_CLEAN_ROWS
    for r in reports:
        errors += len(r.errors)
        warnings += len(r.warnings)
        ok = _passes(r, strict=strict)
        failed += not ok
        if not r.findings and not show_clean:
            hidden += 1
            continue
        name = f"{r.namespace}/{r.name}" if r.namespace and r.name else (r.name or "?")
        if not r.findings:
            status, style = "valid", "green"
        elif r.errors:
            status, style = f"{len(r.errors)} error(s)", "red"
        else:
            status, style = f"{len(r.warnings)} warning(s)", "red" if strict else "yellow"
        rows.append([f"{r.source}\n{name}" if name != "?" else r.source, status, ""])
        styles.append(f"bold {style}")
        ends.append(not r.findings)
        for i, f in enumerate((*r.errors, *r.warnings)):
            rows.append(["", f.severity, f"{f.path or '(config)'}: {f.message}"])
            styles.append("red" if f.severity == "error" else "yellow")
            ends.append(i == len(r.findings) - 1)
    summary = (
        f"{len(reports)} object(s): {len(reports) - failed} passed, {failed} failed; "
        f"{errors} error(s), {warnings} warning(s)"
    )
    if hidden:
        summary += f"; {hidden} valid object(s) without findings not listed (see --output json)"
    console.print_table(
        ["object", "result", "finding"], rows,
        row_styles=styles, section_ends=ends, caption=summary,
    )


# --- cluster ------------------------------------------------------------------------------


def _cluster_documents(
    kubeconfig: Path | None, namespace: str | None, *, all_namespaces: bool
) -> list[Document]:
    """List the NADs through the API (the user's kubeconfig, else in-cluster config)."""
    import os

    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    config: Any = kube_config  # its loaders are untyped

    cfg_file = str(kubeconfig) if kubeconfig else None
    try:
        if cfg_file is None and "KUBERNETES_SERVICE_HOST" in os.environ and not (
            "KUBECONFIG" in os.environ or Path("~/.kube/config").expanduser().exists()
        ):
            config.load_incluster_config()
            api_client = client.ApiClient()
            if namespace is None and not all_namespaces:
                namespace = _incluster_namespace()
        else:
            api_client = config.new_client_from_config(config_file=cfg_file)
            if namespace is None and not all_namespaces:
                namespace = _context_namespace(config, cfg_file)
    except (config.ConfigException, OSError, ValueError, TypeError) as err:
        raise InputError(f"cannot load kubeconfig: {_one_line(err)}") from None

    api: Any = client.CustomObjectsApi(api_client)
    where = "all namespaces" if all_namespaces else f"namespace {namespace}"
    items: list[Any] = []
    token: str | None = None
    try:
        with api_client:
            while True:
                kwargs: dict[str, Any] = {"limit": PAGE_SIZE, "_request_timeout": REQUEST_TIMEOUT}
                if token:
                    kwargs["_continue"] = token
                if all_namespaces:
                    page = api.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)
                else:
                    page = api.list_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, **kwargs
                    )
                items.extend(page.get("items") or [])
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
    except ApiException as err:
        raise InputError(_api_error(err, where)) from None
    except (HTTPError, OSError) as err:
        raise InputError(f"cannot reach the API server: {_one_line(err)}") from None

    docs = []
    for item in items:
        meta = item.get("metadata") or {}
        item.setdefault("apiVersion", API_VERSION)
        item.setdefault("kind", KIND)
        docs.append(Document(f"{meta.get('namespace')}/{meta.get('name')}", item))
    return docs


def _context_namespace(config: Any, cfg_file: str | None) -> str:
    try:
        _, active = config.list_kube_config_contexts(config_file=cfg_file)
    except (config.ConfigException, OSError, ValueError):
        return "default"
    ns = ((active or {}).get("context") or {}).get("namespace")
    return ns if isinstance(ns, str) and ns else "default"


def _incluster_namespace() -> str:
    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    try:
        return path.read_text().strip() or "default"
    except OSError:
        return "default"


def _api_error(err: Any, where: str) -> str:
    status = getattr(err, "status", 0)
    if status == 404:
        return (f"the API server has no {PLURAL}.{GROUP} resource; is the NAD CRD installed?")
    if status in (401, 403):
        return f"not allowed to list {PLURAL} in {where} (HTTP {status}: {err.reason})"
    return f"listing {PLURAL} in {where} failed: HTTP {status} {err.reason}"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


__all__ = ["command", "json_payload"]
