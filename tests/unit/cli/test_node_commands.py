"""CLI of `entrypoint`, `generate-config` and `kubeconfig`: every flag, every syntax form."""

from __future__ import annotations

import json
import operator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from multusctl.cli.commands import entrypoint as entrypoint_cmd
from multusctl.cli.commands import generate_config, kubeconfig
from multusctl.cli.commands._node_flags import normalise_bool_args
from multusctl.errors import InvalidEnvironment
from multusctl.installer.entrypoint import EntrypointOptions

runner = CliRunner()

# The same registration as multusctl/cli/app.py `_register()`, without importing the
# other commands (their modules are tested on their own).
app = typer.Typer(context_settings={"help_option_names": ["-h", "--help"]})
app.command(name="entrypoint", cls=entrypoint_cmd.Command, help=entrypoint_cmd.__doc__)(
    entrypoint_cmd.command
)
app.command(name="generate-config", cls=generate_config.Command, help=generate_config.__doc__)(
    generate_config.command
)
app.command(name="kubeconfig", cls=kubeconfig.Command, help=kubeconfig.__doc__)(kubeconfig.command)

STRING_FLAGS = [
    ("--cni-bin-dir", "cni_bin_dir"),
    ("--cni-conf-dir", "cni_conf_dir"),
    ("--cni-version", "generate.cni_version"),
    ("--multus-conf-file", "multus_conf_file"),
    ("--multus-bin-file", "multus_bin_file"),
    ("--multus-cni-conf-dir", "generate.multus_cni_conf_dir"),
    ("--multus-kubeconfig-file-host", "generate.kubeconfig"),
    ("--multus-master-cni-file-name", "multus_master_cni_file_name"),
    ("--global-namespaces", "generate.global_namespaces"),
    ("--multus-autoconfig-dir", "multus_autoconfig_dir"),
    ("--multus-log-level", "generate.log_level"),
    ("--multus-log-file", "generate.log_file"),
    ("--additional-bin-dir", "generate.additional_bin_dir"),
    ("--readiness-indicator-file", "generate.readiness_indicator_file"),
]
BOOL_FLAGS = [
    ("--force-cni-version", "generate.force_cni_version", False),
    ("--namespace-isolation", "generate.namespace_isolation", False),
    ("--multus-log-to-stderr", "generate.log_to_stderr", True),
    ("--override-network-name", "generate.override_network_name", False),
    ("--cleanup-config-on-exit", "cleanup_config_on_exit", False),
    ("--skip-config-watch", "skip_config_watch", False),
    ("--restart-crio", "restart_crio", False),
    ("--rename-conf-file", "rename_conf_file", False),
    ("--skip-multus-binary-copy", "skip_multus_binary_copy", False),
    ("--skip-tls-verify", "kube.skip_tls_verify", False),
]
#: upstream v4.2 defaults (ENT4-01); v3.9 differs only for --multus-conf-file.
DEFAULTS = {
    "cni_bin_dir": "/host/opt/cni/bin",
    "cni_conf_dir": "/host/etc/cni/net.d",
    "generate.cni_version": "",
    "multus_conf_file": "auto",
    "multus_bin_file": "/usr/src/multus-cni/bin/multus",
    "generate.multus_cni_conf_dir": "/host/etc/cni/multus/net.d",
    "generate.kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig",
    "multus_master_cni_file_name": "",
    "generate.global_namespaces": "",
    "multus_autoconfig_dir": "/host/etc/cni/net.d",
    "generate.log_level": "",
    "generate.log_file": "",
    "generate.additional_bin_dir": "",
    "generate.readiness_indicator_file": "",
    "kube.service_account_dir": "/var/run/secrets/kubernetes.io/serviceaccount",
    "kube.kubeconfig_mode": 0o600,
    "kube.service_protocol": "https",
    "master_wait_seconds": 600.0,
}


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[EntrypointOptions]:
    seen: list[EntrypointOptions] = []
    monkeypatch.setattr(entrypoint_cmd, "run", lambda opts, reporter, ctx: seen.append(opts))
    monkeypatch.setattr(entrypoint_cmd, "install_signal_handlers", lambda stop, w: lambda: None)
    for name in (
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
        "KUBERNETES_SERVICE_PROTOCOL",
        "KUBE_CA_FILE",
        "SKIP_TLS_VERIFY",
        "KUBECONFIG_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    return seen


def entrypoint(captured: list[EntrypointOptions], *args: str) -> EntrypointOptions:
    result = runner.invoke(app, ["entrypoint", *args])
    assert result.exit_code == 0, result.output
    return captured[-1]


def get(options: EntrypointOptions, path: str) -> Any:
    return operator.attrgetter(path)(options)


def test_defaults_are_upstream_v42(captured: list[EntrypointOptions]) -> None:
    options = entrypoint(captured)
    for path, value in DEFAULTS.items():
        assert get(options, path) == value, path
    for _flag, path, default in BOOL_FLAGS:
        assert get(options, path) is default, path


@pytest.mark.parametrize(("flag", "path"), STRING_FLAGS)
@pytest.mark.parametrize("form", ["equals", "space"])
def test_string_flag(captured: list[EntrypointOptions], flag: str, path: str, form: str) -> None:
    value = "/x/y=z" if flag != "--multus-conf-file" else "/etc/multus/70-multus.conf"
    args = [f"{flag}={value}"] if form == "equals" else [flag, value]
    assert get(entrypoint(captured, *args), path) == value


@pytest.mark.parametrize(("flag", "path", "default"), BOOL_FLAGS)
@pytest.mark.parametrize(
    ("suffix", "expected"),
    [("", True), ("=true", True), ("=false", False)],
)
def test_bool_flag_forms(  # noqa: PLR0917 - pytest parameters
    captured: list[EntrypointOptions],
    flag: str,
    path: str,
    default: bool,
    suffix: str,
    expected: bool,
) -> None:
    assert get(entrypoint(captured, flag + suffix), path) is expected


@pytest.mark.parametrize(("flag", "path", "default"), BOOL_FLAGS)
def test_bool_flag_negative_form(
    captured: list[EntrypointOptions], flag: str, path: str, default: bool
) -> None:
    assert get(entrypoint(captured, "--no-" + flag[2:]), path) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *((v, True) for v in ("1", "t", "T", "true", "TRUE", "True")),
        *((v, False) for v in ("0", "f", "F", "false", "FALSE", "False")),
    ],
)
def test_bool_values_like_go_parsebool(value: str, expected: bool) -> None:
    flags = {"--x": ("--x", "--no-x")}
    assert normalise_bool_args([f"--x={value}"], flags) == ["--x" if expected else "--no-x"]
    assert normalise_bool_args(["--x", "--y=1", "--", "--x=0"], flags) == [
        "--x",
        "--y=1",
        "--",
        "--x=0",
    ]


@pytest.mark.parametrize("value", ["yes", "", "maybe"])
def test_bool_flag_rejects_other_values(captured: list[EntrypointOptions], value: str) -> None:
    result = runner.invoke(app, ["entrypoint", f"--cleanup-config-on-exit={value}"])
    assert result.exit_code == 2
    assert "expected true or false" in result.output
    assert captured == []


def test_unknown_flag_is_a_usage_error(captured: list[EntrypointOptions]) -> None:
    result = runner.invoke(app, ["entrypoint", "--overwrite-network-status=true"])
    assert result.exit_code == 2
    assert captured == []


def test_upstream_daemonset_args(captured: list[EntrypointOptions]) -> None:
    """The args of upstream's thin DaemonSet and of the v3.9 manifests, unchanged."""
    options = entrypoint(
        captured,
        "--multus-conf-file=auto",
        "--multus-autoconfig-dir=/host/etc/cni/net.d",
        "--cni-conf-dir=/host/etc/cni/net.d",
        "--cleanup-config-on-exit=true",
        "--cni-version=0.3.1",
        "--multus-kubeconfig-file-host=/etc/cni/net.d/multus.d/multus.kubeconfig",
        "--namespace-isolation=false",
        "--multus-log-level=verbose",
    )
    assert options.cleanup_config_on_exit is True
    assert options.generate.namespace_isolation is False
    assert options.generate.cni_version == "0.3.1"


def test_bool_rewrite_stops_at_double_dash(captured: list[EntrypointOptions]) -> None:
    result = runner.invoke(app, ["entrypoint", "--", "--restart-crio=maybe"])
    assert result.exit_code == 2  # no positional arguments, but no bool parse error either
    assert "expected true or false" not in result.output


def test_environment_inputs(
    captured: list[EntrypointOptions], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    monkeypatch.setenv("KUBERNETES_SERVICE_PROTOCOL", "http")
    monkeypatch.setenv("KUBE_CA_FILE", "/ca.pem")
    monkeypatch.setenv("SKIP_TLS_VERIFY", "true")
    monkeypatch.setenv("KUBECONFIG_MODE", "640")
    kube = entrypoint(captured, "--service-account-dir=/sa").kube
    assert (kube.service_host, kube.service_port, kube.service_protocol) == (
        "fd00::1",
        "6443",
        "http",
    )
    assert kube.ca_file == "/ca.pem"
    assert kube.skip_tls_verify is True
    assert kube.kubeconfig_mode == 0o640
    assert kube.service_account_dir == "/sa"


def test_bad_kubeconfig_mode(
    captured: list[EntrypointOptions], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG_MODE", "rw")
    result = runner.invoke(app, ["entrypoint"])
    assert isinstance(result.exception, InvalidEnvironment)


def test_help_lists_flags_but_not_hidden_ones() -> None:
    result = runner.invoke(app, ["entrypoint", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for flag, _path in STRING_FLAGS:
        assert flag in result.output, flag
    for flag, _path, _default in BOOL_FLAGS:
        if flag in ("--force-cni-version", "--skip-tls-verify"):
            assert flag not in result.output
        else:
            assert flag in result.output, flag


# --- generate-config -----------------------------------------------------------------------


@pytest.fixture
def netd(tmp_path: Path) -> Path:
    (tmp_path / "10-flannel.conflist").write_text(
        '{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel"},'
        '{"type":"portmap","capabilities":{"portMappings":true}}]}'
    )
    (tmp_path / "00-multus.conf").write_text("{}")
    return tmp_path


def test_generate_config_prints(netd: Path) -> None:
    result = runner.invoke(app, ["generate-config", f"--cni-conf-dir={netd}"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["delegates"][0]["name"] == "cbr0"
    assert doc["capabilities"] == {"portMappings": True}
    assert doc["cniConf"] == "/host/etc/cni/multus/net.d"


def test_generate_config_flags(netd: Path) -> None:
    result = runner.invoke(
        app,
        [
            "generate-config",
            "--multus-autoconfig-dir",
            str(netd),
            "--namespace-isolation=true",
            "--global-namespaces=a,b",
            "--multus-log-to-stderr=false",
            "--multus-log-level=DEBUG",
            "--multus-log-file=/var/log/multus.log",
            "--override-network-name",
            "--additional-bin-dir=/opt/extra",
            "--readiness-indicator-file=/run/ready",
            "--multus-kubeconfig-file-host=/k",
            "--multus-cni-conf-dir=",
            "--cni-version=0.4.0",
            "--force-cni-version=true",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == {
        "cniVersion": "0.4.0",
        "name": "cbr0",
        "type": "multus",
        "capabilities": {"portMappings": True},
        "namespaceIsolation": True,
        "globalNamespaces": "a,b",
        "logToStderr": False,
        "logLevel": "debug",
        "logFile": "/var/log/multus.log",
        "binDir": "/opt/extra",
        "readinessindicatorfile": "/run/ready",
        "kubeconfig": "/k",
        "delegates": [
            {
                "name": "cbr0",
                "cniVersion": "0.4.0",
                "plugins": [
                    {"type": "flannel"},
                    {"type": "portmap", "capabilities": {"portMappings": True}},
                ],
            }
        ],
    }


def test_generate_config_output_file_and_master(netd: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "00-multus.conf"
    out.parent.mkdir()
    master = tmp_path / "m.conf"
    master.write_text('{"cniVersion":"1.0.0","name":"m","type":"ptp"}')
    result = runner.invoke(app, ["generate-config", "--master", str(master), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert json.loads(out.read_text())["plugins"][0]["delegates"][0]["name"] == "m"
    assert out.stat().st_mode & 0o777 == 0o600


def test_generate_config_explicit_master_name(netd: Path) -> None:
    (netd / "20-other.conf").write_text('{"cniVersion":"0.3.1","name":"other","type":"ptp"}')
    result = runner.invoke(
        app,
        [
            "generate-config",
            f"--cni-conf-dir={netd}",
            "--multus-master-cni-file-name=20-other.conf",
        ],
    )
    assert json.loads(result.stdout)["delegates"][0]["name"] == "other"


def test_generate_config_without_master(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate-config", f"--cni-conf-dir={tmp_path}"])
    assert result.exit_code != 0
    assert "cannot find valid master CNI config" in str(result.exception)


# --- kubeconfig ------------------------------------------------------------------------------


@pytest.fixture
def sa(tmp_path: Path) -> Path:
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "ca.crt").write_text("CA")
    return tmp_path


def test_kubeconfig_from_environment(sa: Path) -> None:
    result = runner.invoke(
        app,
        ["kubeconfig", f"--service-account-dir={sa}"],
        env={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
    )
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    assert doc["clusters"][0]["cluster"]["server"] == "https://10.96.0.1:443"
    assert doc["users"][0]["user"]["token"] == "tok"  # noqa: S105 - test data


def test_kubeconfig_output_mode_and_references(sa: Path, tmp_path: Path) -> None:
    out = tmp_path / "multus.d" / "multus.kubeconfig"
    result = runner.invoke(
        app,
        [
            "kubeconfig",
            "--host=fd00::1",
            "--port=6443",
            f"--service-account-dir={sa}",
            "--reference-files",
            f"--output={out}",
            "--mode=640",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(out.read_text())
    assert doc["clusters"][0]["cluster"]["server"] == "https://[fd00::1]:6443"
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == str(sa / "ca.crt")
    assert doc["users"][0]["user"]["tokenFile"] == str(sa / "token")
    assert out.stat().st_mode & 0o777 == 0o640


def test_kubeconfig_skip_tls_from_env(sa: Path) -> None:
    (sa / "ca.crt").unlink()
    result = runner.invoke(
        app,
        ["kubeconfig", "--host=h", "--port=1", f"--service-account-dir={sa}"],
        env={"SKIP_TLS_VERIFY": "true"},
    )
    assert result.exit_code == 0, result.output
    assert "insecure-skip-tls-verify: true" in result.stdout
