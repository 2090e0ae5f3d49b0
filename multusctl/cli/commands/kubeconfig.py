"""Print the Multus kubeconfig built from a service account (or write it).

Reads the same inputs as the entrypoint: KUBERNETES_SERVICE_HOST/_PORT/_PROTOCOL,
KUBE_CA_FILE, SKIP_TLS_VERIFY, KUBECONFIG_MODE and the service account's token and CA.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from multusctl import fsutil
from multusctl.cli import console
from multusctl.cli.commands import _node_flags as nf
from multusctl.config.kubeconfig import KubeconfigInputs, render_kubeconfig
from multusctl.errors import InvalidEnvironment, IOFailure
from multusctl.installer.entrypoint import SERVICE_ACCOUNT_DIR

Command = nf.CompatCommand


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise IOFailure(f"cannot read the {what} {path}: {err}") from err


def command(
    *,
    host: Annotated[
        str, typer.Option("--host", envvar="KUBERNETES_SERVICE_HOST", help="API server host.")
    ] = "",
    port: Annotated[
        str, typer.Option("--port", envvar="KUBERNETES_SERVICE_PORT", help="API server port.")
    ] = "",
    protocol: Annotated[
        str,
        typer.Option("--protocol", envvar="KUBERNETES_SERVICE_PROTOCOL", help="URL scheme."),
    ] = "https",
    service_account_dir: Annotated[
        str,
        typer.Option("--service-account-dir", help="Where the token and ca.crt are."),
    ] = SERVICE_ACCOUNT_DIR,
    ca_file: Annotated[
        str,
        typer.Option(
            "--ca-file",
            envvar="KUBE_CA_FILE",
            help="CA bundle [default: <service-account-dir>/ca.crt].",
            show_default=False,
        ),
    ] = "",
    token_file: Annotated[
        str,
        typer.Option(
            "--token-file",
            help="Token file [default: <service-account-dir>/token].",
            show_default=False,
        ),
    ] = "",
    reference_files: Annotated[
        bool,
        typer.Option(
            "--reference-files/--embed",
            help="Point at the CA and token files (tokenFile) instead of embedding them; "
            "for files that stay readable on the host.",
        ),
    ] = False,
    skip_tls_verify: Annotated[
        bool,
        typer.Option(
            "--skip-tls-verify/--no-skip-tls-verify",
            help="No CA verification (also SKIP_TLS_VERIFY=true).",
        ),
    ] = False,
    output: Annotated[
        str, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = "",
    mode: Annotated[
        str,
        typer.Option("--mode", envvar="KUBECONFIG_MODE", help="Octal mode of --output."),
    ] = "600",
) -> None:
    """Print the Multus kubeconfig built from a service account (or write it)."""
    import os

    skip = skip_tls_verify or os.environ.get("SKIP_TLS_VERIFY", "").lower() == "true"
    sa_dir = Path(service_account_dir)
    token_path = Path(token_file) if token_file else sa_dir / "token"
    ca_path = Path(ca_file) if ca_file else sa_dir / "ca.crt"
    try:
        file_mode = int(mode or "600", 8)
    except ValueError as err:
        raise InvalidEnvironment(f"KUBECONFIG_MODE is not an octal mode: {mode!r}") from err
    if reference_files:
        inputs = KubeconfigInputs(
            host=host,
            port=port,
            protocol=protocol,
            skip_tls_verify=skip,
            ca_file="" if skip else str(ca_path),
            token_file=str(token_path),
        )
    else:
        inputs = KubeconfigInputs(
            host=host,
            port=port,
            protocol=protocol,
            skip_tls_verify=skip,
            ca_data=None if skip else _read(ca_path, "service account CA"),
            token=_read(token_path, "service account token").decode("utf-8", "replace"),
        )
    text = render_kubeconfig(inputs)
    if not output:
        sys.stdout.write(text)
        return
    try:
        Path(output).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fsutil.atomic_write(output, text, mode=file_mode)
    except OSError as err:
        raise IOFailure(f"cannot write {output}: {err}") from err
    console.note_line(f"kubeconfig written to {output}")
