"""`multusctl validate-nad` run as a subprocess: inputs, output formats, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

_SCRIPT = Path(sys.executable).parent / "multusctl"
MULTUSCTL = (
    [str(_SCRIPT)] if _SCRIPT.exists()
    else [sys.executable, "-c", "from multusctl.cli.app import main; main()"]
)

GOOD = """\
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf
  namespace: team-a
spec:
  config: '{
      "cniVersion": "0.3.1",
      "type": "macvlan",
      "master": "eth0",
      "mode": "bridge",
      "ipam": {"type": "host-local", "subnet": "192.168.1.0/24",
               "rangeStart": "192.168.1.200", "rangeEnd": "192.168.1.216",
               "routes": [{"dst": "0.0.0.0/0"}], "gateway": "192.168.1.1"}
    }'
"""

BAD = """\
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: Bad_Name
spec:
  config: '{"cniVersion": "0.3.1", "master": "eth0"}'
"""

WARN = """\
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: from-disk
"""

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: samplepod
spec:
  containers: [{name: c, image: alpine}]
"""


def run(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "TERM": "dumb"}
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [*MULTUSCTL, "validate-nad", *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=cwd, check=False, timeout=60,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def as_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def assert_one_error_line(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


# --- the JSON contract ----------------------------------------------------------------------


def test_json_output_contract(tmp_path: Path) -> None:
    """Pins the --output json envelope: key names, order, types and the per-result shape."""
    f = write(tmp_path / "nads.yaml", GOOD + "---\n" + BAD + "---\n" + WARN)
    proc = run("--output", "json", "nads.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    data = as_json(proc)
    assert f.exists()
    assert data == {
        "valid": False,
        "results": [
            {"source": "nads.yaml:1", "namespace": "team-a", "name": "macvlan-conf",
             "valid": True, "errors": [], "warnings": []},
            {"source": "nads.yaml:2", "namespace": None, "name": "Bad_Name", "valid": False,
             "errors": [
                 {"path": "metadata.name", "message": (
                     "name \"Bad_Name\" is not a DNS-1123 label (lower-case letters, digits and "
                     "'-', starting and ending with a letter or digit); rename it, e.g. "
                     "\"bad-name\"")},
                 {"path": "spec.config.type", "message": (
                     "config has neither \"type\" nor \"plugins\", so it is neither a plugin "
                     "config nor a plugin list; add \"type\" (e.g. \"macvlan\") or a "
                     "\"plugins\" list")},
             ],
             "warnings": []},
            {"source": "nads.yaml:3", "namespace": None, "name": "from-disk", "valid": True,
             "errors": [],
             "warnings": [{"path": "spec.config", "message": (
                 "spec.config is empty, so every node must have a CNI config file in confDir "
                 "(default /etc/cni/multus/net.d) whose \"name\" is \"from-disk\"; add "
                 "spec.config or make sure that file exists")}]},
        ],
    }
    assert list(data) == ["valid", "results"]
    for result in data["results"]:
        assert list(result) == ["source", "namespace", "name", "valid", "errors", "warnings"]
        for item in result["errors"] + result["warnings"]:
            assert list(item) == ["path", "message"]


def test_json_strict_marks_warnings_invalid(tmp_path: Path) -> None:
    write(tmp_path / "w.yaml", WARN)
    proc = run("-o", "json", "--strict", str(tmp_path / "w.yaml"))
    assert proc.returncode == 1
    data = as_json(proc)
    assert data["valid"] is False
    assert data["results"][0]["valid"] is False
    assert data["results"][0]["errors"] == []


# --- exit statuses and text output -------------------------------------------------------------


def test_valid_file_text_output_exit_0(tmp_path: Path) -> None:
    write(tmp_path / "good.yaml", GOOD)
    proc = run(str(tmp_path / "good.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "good.yaml:1" in proc.stdout
    assert "team-a/macvlan-conf" in proc.stdout
    assert "valid" in proc.stdout
    assert "1 object(s): 1 passed, 0 failed; 0 error(s), 0 warning(s)" in proc.stdout


def test_invalid_file_text_output_exit_1(tmp_path: Path) -> None:
    write(tmp_path / "bad.yaml", BAD)
    proc = run(str(tmp_path / "bad.yaml"))
    assert proc.returncode == 1
    assert "2 error(s)" in proc.stdout
    assert 'metadata.name: name "Bad_Name" is not a DNS-1123 label' in proc.stdout
    assert "spec.config.type: config has neither" in proc.stdout


def test_text_output_lists_only_findings_for_large_inputs(tmp_path: Path) -> None:
    many = [WARN.replace("from-disk", f"disk-{i}") for i in range(3)] + [
        GOOD.replace("macvlan-conf", f"net-{i}").replace("192.168.1.", f"10.{i // 250}.{i % 250}.")
        for i in range(201)
    ]
    write(tmp_path / "many.yaml", "---\n".join(many))
    proc = run(str(tmp_path / "many.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "disk-2" in proc.stdout
    assert "net-7" not in proc.stdout
    assert ("204 object(s): 204 passed, 0 failed; 0 error(s), 3 warning(s); 201 valid "
            "object(s) without findings not listed (see --output json)") in proc.stdout
    assert len(as_json(run("-o", "json", str(tmp_path / "many.yaml")))["results"]) == 204


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    write(tmp_path / "w.yaml", WARN)
    assert run(str(tmp_path / "w.yaml")).returncode == 0
    strict = run("--strict", str(tmp_path / "w.yaml"))
    assert strict.returncode == 1
    assert "1 warning(s)" in strict.stdout


def test_cni_bin_dir_missing_plugin_is_a_warning_then_an_error(tmp_path: Path) -> None:
    write(tmp_path / "good.yaml", GOOD)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "macvlan").write_text("#!/bin/sh\n")
    (bin_dir / "macvlan").chmod(0o755)
    proc = run("-o", "json", "--cni-bin-dir", str(bin_dir), str(tmp_path / "good.yaml"))
    assert proc.returncode == 0
    [warning] = as_json(proc)["results"][0]["warnings"]
    assert warning["path"] == "spec.config.ipam.type"
    assert '"host-local" is not an executable' in warning["message"]
    strict = run("-o", "json", "--strict", "--cni-bin-dir", str(bin_dir),
                 str(tmp_path / "good.yaml"))
    assert strict.returncode == 1
    assert as_json(strict)["results"][0]["errors"][0]["path"] == "spec.config.ipam.type"


# --- inputs --------------------------------------------------------------------------------


def test_stdin(tmp_path: Path) -> None:
    proc = run("-o", "json", "-", stdin=GOOD + "---\n" + BAD)
    assert proc.returncode == 1
    assert [r["source"] for r in as_json(proc)["results"]] == ["<stdin>:1", "<stdin>:2"]


def test_directory_is_searched_recursively(tmp_path: Path) -> None:
    write(tmp_path / "nads" / "a.yaml", GOOD)
    write(tmp_path / "nads" / "sub" / "b.yml", WARN)
    write(tmp_path / "nads" / "sub" / "deeper" / "c.json", json.dumps({
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "json-nad"},
        "spec": {"config": json.dumps({"cniVersion": "1.0.0", "type": "bridge"})},
    }))
    write(tmp_path / "nads" / "notes.txt", "not yaml: [")
    proc = run("-o", "json", "nads", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r["source"] for r in as_json(proc)["results"]] == [
        "nads/a.yaml:1", "nads/sub/b.yml:1", "nads/sub/deeper/c.json:1"]


def test_multi_document_list_and_other_kinds(tmp_path: Path) -> None:
    nad_list = {
        "apiVersion": "v1", "kind": "List",
        "items": [
            {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
             "metadata": {"name": "in-list", "namespace": "default"},
             "spec": {"config": '{"cniVersion": "1.0.0", "type": "bridge"}'}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
        ],
    }
    write(tmp_path / "mixed.yaml", "---\n".join([GOOD, POD, json.dumps(nad_list) + "\n", "", WARN]))
    proc = run("-o", "json", "mixed.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r["source"] for r in as_json(proc)["results"]] == [
        "mixed.yaml:1", "mixed.yaml:3.items[0]", "mixed.yaml:5"]
    notes = proc.stderr.strip().splitlines()
    assert notes == [
        "note: mixed.yaml:2: skipped, kind Pod is not a NetworkAttachmentDefinition",
        "note: mixed.yaml:3.items[1]: skipped, kind ConfigMap is not a "
        "NetworkAttachmentDefinition",
    ]


def test_cross_nad_overlap_across_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", GOOD)
    write(tmp_path / "b.yaml", GOOD.replace("macvlan-conf", "other-conf"))
    proc = run("-o", "json", "a.yaml", "b.yaml", cwd=tmp_path)
    assert proc.returncode == 0
    warnings = [w for r in as_json(proc)["results"] for w in r["warnings"]]
    assert len(warnings) == 1
    assert "overlaps 192.168.1.200-192.168.1.216 of a.yaml:1" in warnings[0]["message"]


def test_only_other_kinds_is_valid_and_says_so(tmp_path: Path) -> None:
    write(tmp_path / "pod.yaml", POD)
    proc = run("-o", "json", str(tmp_path / "pod.yaml"))
    assert proc.returncode == 0
    assert as_json(proc) == {"valid": True, "results": []}
    assert "note: no NetworkAttachmentDefinitions found" in proc.stderr


# --- usage and input problems: exit 2, one line ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("missing.yaml", None, "cannot read missing.yaml: no such file"),
        ("dangling.yaml", "->nowhere", "cannot read dangling.yaml: no such file"),
        ("latin1.yaml", b"name: caf\xe9\n", "cannot read latin1.yaml: not UTF-8 text"),
        ("broken.yaml", "a: [1, 2\nb: c\n", "broken.yaml: invalid YAML at line"),
        ("broken.json", '{"a": 1,}', "broken.json: invalid JSON at line 1 column 9"),
    ],
)
def test_unreadable_or_malformed_input_exit_2(
    tmp_path: Path, name: str, content: str | bytes | None, fragment: str
) -> None:
    target = tmp_path / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif content == "->nowhere":
        target.symlink_to(tmp_path / "nowhere")
    elif content is not None:
        target.write_text(content)
    assert_one_error_line(run(name, cwd=tmp_path), fragment)


def test_unreadable_path_exit_2(tmp_path: Path) -> None:
    write(tmp_path / "file.yaml", GOOD)
    assert_one_error_line(run("file.yaml/x.yaml", cwd=tmp_path),
                          "cannot read file.yaml/x.yaml: Not a directory")


def test_permission_denied_exit_2(tmp_path: Path) -> None:
    target = write(tmp_path / "secret.yaml", GOOD)
    target.chmod(0)
    try:
        if os.access(target, os.R_OK):
            # root reads anything; the unreadable case is covered by the test above
            assert run("secret.yaml", cwd=tmp_path).returncode == 0
        else:
            assert_one_error_line(run("secret.yaml", cwd=tmp_path),
                                  "cannot read secret.yaml: permission denied")
    finally:
        target.chmod(0o644)


def test_no_inputs_is_a_usage_error() -> None:
    assert_one_error_line(run(), "give files, directories, - (stdin) or --from-cluster")


def test_namespace_needs_from_cluster(tmp_path: Path) -> None:
    write(tmp_path / "good.yaml", GOOD)
    assert_one_error_line(run("-n", "default", str(tmp_path / "good.yaml")),
                          "need --from-cluster")


def test_from_cluster_with_broken_kubeconfig_exit_2(tmp_path: Path) -> None:
    kubeconfig = write(tmp_path / "kubeconfig", "apiVersion: v1\nkind: Config\nclusters: []\n")
    assert_one_error_line(run("--from-cluster", "--kubeconfig", str(kubeconfig)),
                          "cannot load kubeconfig")


def test_from_cluster_with_unreachable_server_exit_2(tmp_path: Path) -> None:
    kubeconfig = write(tmp_path / "kubeconfig", """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: team-a}}]
current-context: x
""")
    proc = run("--from-cluster", "--kubeconfig", str(kubeconfig))
    assert_one_error_line(proc, "cannot reach the API server")


# --- --from-cluster against a stub API server (the real one: tests/cluster) -----------------


class _StubApi:
    """Serves NAD lists over plain HTTP on loopback, a page of two items at a time."""

    def __init__(self, nads: list[dict[str, Any]], *, status: int = 200) -> None:
        import http.server
        import threading
        import urllib.parse

        self.requests: list[str] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(self.path)
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                parts = url.path.strip("/").split("/")
                if status != 200:
                    return self._send(status, {"kind": "Status", "code": status,
                                               "reason": "Forbidden", "message": "no"})
                ns = parts[4] if parts[3] == "namespaces" else None
                items = [n for n in nads if ns is None or n["metadata"]["namespace"] == ns]
                start = int(query.get("continue", ["0"])[0])
                limit = int(query.get("limit", ["500"])[0])
                page, rest = items[start:start + min(limit, 2)], items[start + 2:]
                meta = {"continue": str(start + 2)} if rest else {}
                return self._send(200, {"apiVersion": "k8s.cni.cncf.io/v1",
                                        "kind": "NetworkAttachmentDefinitionList",
                                        "metadata": meta, "items": page})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path, namespace: str | None = None) -> Path:
        context: dict[str, str] = {"cluster": "c", "user": "u"}
        if namespace:
            context["namespace"] = namespace
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "x",
            "clusters": [{"name": "c", "cluster": {"server": self.url}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": context}],
        }))
        return path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _cluster_nad(ns: str, name: str, config: str) -> dict[str, Any]:
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"namespace": ns, "name": name}, "spec": {"config": config}}


def test_from_cluster_pages_through_the_list(tmp_path: Path) -> None:
    ok = '{"cniVersion": "1.0.0", "type": "bridge"}'
    nads = [_cluster_nad("a", f"n{i}", ok) for i in range(5)]
    nads.append(_cluster_nad("b", "broken", "{"))
    stub = _StubApi(nads)
    try:
        proc = run("--from-cluster", "--kubeconfig", str(stub.kubeconfig(tmp_path / "kc", "a")),
                   "-o", "json")
        assert proc.returncode == 0, proc.stderr
        assert [r["source"] for r in as_json(proc)["results"]] == [f"a/n{i}" for i in range(5)]
        assert len(stub.requests) == 3  # pages of two
        assert all("/namespaces/a/network-attachment-definitions" in p for p in stub.requests)

        every = run("--from-cluster", "-A", "--kubeconfig", str(tmp_path / "kc"), "-o", "json")
        assert every.returncode == 1
        assert as_json(every)["results"][-1]["source"] == "b/broken"
        assert stub.requests[-1].startswith("/apis/k8s.cni.cncf.io/v1/network-attachment-")
    finally:
        stub.close()


def test_from_cluster_default_namespace_and_forbidden(tmp_path: Path) -> None:
    stub = _StubApi([])
    try:
        proc = run("--from-cluster", "--kubeconfig", str(stub.kubeconfig(tmp_path / "kc")))
        assert proc.returncode == 0
        assert stub.requests[0].startswith(
            "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions")
        assert "note: no NetworkAttachmentDefinitions found" in proc.stderr
    finally:
        stub.close()
    denied = _StubApi([], status=403)
    try:
        proc = run("--from-cluster", "-n", "x", "--kubeconfig",
                   str(denied.kubeconfig(tmp_path / "kc2")))
        assert_one_error_line(proc, "not allowed to list network-attachment-definitions in "
                                    "namespace x (HTTP 403")
    finally:
        denied.close()
