"""``multus-shim``: the thick plugin's CNI executable. Forwards each call to the daemon.

Standard library only and no ``multusctl`` import on the CNI path: the runtime starts
this for every CNI call, so start-up time is its budget. The file also runs on its own
(``python3 -S shim.py``), so it can be installed on a node as a single file.

Behaviour (THK-13, CFG-18, HEAD-05/06):

* skel checks of the environment and config, ``VERSION``, ``-version``;
* of its config only ``cniVersion``, ``daemonSocketDir`` (default ``/run/multus/``),
  ``logFile``, ``logLevel``, ``logToStderr`` (default false) and ``cniDir`` are read;
  the whole stdin goes to the daemon;
* ADD/CHECK/GC/STATUS wait for ``/readyz`` (``/healthz`` on daemons without it) every
  100 ms for up to 60 s; DEL probes ``/healthz`` once;
* the request is upstream's JSON (``env`` = this process's environment, ``config`` =
  base64 stdin) posted to ``/cni``; ADD prints the result in the config's cniVersion;
* errors are CNI error JSON, ``CmdAdd (shim): …`` and so on; a typed error from the daemon
  keeps its code.

DEL rule: a failure the daemon reports is returned (exit 1), because the standard wants
DEL failures delivered (§7.2) and the runtime retries DEL. When the daemon cannot be
reached at all, DEL succeeds only if Multus has nothing cached for the container
(``<cniDir>/<CNI_CONTAINERID>`` absent: nothing of ours is attached); otherwise it fails
with code 11 so the runtime retries once the daemon is back.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import time

PROGRAM = "multus-shim"
ABOUT = "meta-plugin that delegates to other CNI plugins"
SUPPORTED = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
DEFAULT_SOCKET_DIR = "/run/multus/"
DEFAULT_CNI_DIR = "/var/lib/cni/multus"
READY_INTERVAL = 0.1
READY_TIMEOUT = 60.0
PROBE_TIMEOUT = 5.0

_REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "GC": ("CNI_PATH",),
    "STATUS": ("CNI_PATH",),
}
_MIN_VERSION = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}
_LEVELS = {"panic": 0, "error": 1, "verbose": 2, "debug": 3}
_PREFIX = {"ADD": "CmdAdd", "DEL": "CmdDel", "CHECK": "CmdCheck", "GC": "CmdGC",
           "STATUS": "CmdStatus"}


def _version_string() -> str:
    try:
        from multusctl import __version__ as version
    except ImportError:  # running as a lone file on a node
        version = "unknown"
    return f"version:{version}, commit:unknown commit, date:unknown date"


class ShimError(Exception):
    """A CNI error: code, msg, details."""

    def __init__(self, msg: str, code: int = 999, details: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.code = code
        self.details = details


class Log:
    """Upstream-shaped log lines (``<RFC3339> [level] msg``); off unless configured."""

    def __init__(self, conf: dict[str, object]) -> None:
        self.path = str(conf.get("logFile") or "")
        self.stderr = conf.get("logToStderr") is True
        self.level = _LEVELS.get(str(conf.get("logLevel") or "").lower(), 0)

    def _write(self, level: str, msg: str) -> None:
        if _LEVELS[level] > self.level or not (self.path or self.stderr):
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} [{level}] {msg}\n"
        if self.stderr:
            sys.stderr.write(line)
        if self.path:
            try:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError:
                pass

    def error(self, msg: str) -> None:
        self._write("error", msg)

    def verbose(self, msg: str) -> None:
        self._write("verbose", msg)


# --------------------------------------------------------------------------- output


def _go_json(obj: object) -> str:
    """4-space indented JSON with Go's HTML-safe escapes."""
    text = json.dumps(obj, indent=4, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def _error_json(err: ShimError, cni_version: str) -> str:
    obj: dict[str, object] = {}
    if cni_version:
        obj["cniVersion"] = cni_version
    obj["code"] = err.code
    obj["msg"] = err.msg
    if err.details:
        obj["details"] = err.details
    return _go_json(obj)


# --------------------------------------------------------------------------- skel


def _parse_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (text or "0.1.0").split("."))
    except ValueError:
        return (0,)


def _check_env(environ: dict[str, str], command: str) -> None:
    if command not in _REQUIRED:
        raise ShimError(f"unknown CNI_COMMAND: {command}", 4)
    missing = [k for k in _REQUIRED[command] if not environ.get(k)]
    if missing:
        raise ShimError(f"required env variables [{','.join(missing)}] missing", 4)


def _check_config(stdin: bytes, command: str) -> dict[str, object]:
    try:
        conf = json.loads(stdin)
    except ValueError as exc:
        raise ShimError(f"error unmarshall network config: {exc}", 6) from None
    if not isinstance(conf, dict):
        raise ShimError("error unmarshall network config: expected a JSON object", 6)
    name = conf.get("name")
    if not isinstance(name, str) or not name:
        raise ShimError("missing network name", 7)
    version = conf.get("cniVersion", "")
    if not isinstance(version, str):
        raise ShimError("error unmarshall network config: cniVersion must be a string", 6)
    if (version or "0.1.0") not in SUPPORTED:
        supported = " ".join(f'"{v}"' for v in SUPPORTED)
        raise ShimError("incompatible CNI versions", 1,
                        f'config is "{version}", plugin supports [{supported}]')
    minimum = _MIN_VERSION.get(command)
    if minimum and _parse_version(version) < _parse_version(minimum):
        raise ShimError(f"config version does not allow {command}", 1)
    for key in ("daemonSocketDir", "logFile", "logLevel", "cniDir"):
        if conf.get(key) is not None and not isinstance(conf[key], str):
            raise ShimError(
                "invalid CNI configuration passed to multus-shim: failed to gather the "
                f"multus configuration: {key}: expected a string", 7)
    return conf


# --------------------------------------------------------------------------- socket


def _http(path: str, method: str, endpoint: str, body: bytes = b"",
          timeout: float | None = None) -> tuple[int, str, bytes]:
    """One request over the unix socket: (status, content type, body)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        head = (f"{method} {endpoint} HTTP/1.1\r\nHost: dummy\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        sock.sendall(head + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    data = b"".join(chunks)
    header, _, payload = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise OSError(f"malformed HTTP response: {lines[0]!r}")
    ctype = ""
    length = -1
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-type":
            ctype = value.strip()
        elif key.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    if length >= 0:
        payload = payload[:length]
    return int(parts[1]), ctype, payload


def _wait_ready(sock_path: str) -> None:
    """HEAD-05: poll ``/readyz`` (or ``/healthz`` if the daemon has no ``/readyz``)."""
    deadline = time.monotonic() + READY_TIMEOUT
    endpoint = "/readyz"
    last = "timed out waiting for the condition"
    while True:
        try:
            status, _, _ = _http(sock_path, "POST", endpoint, timeout=PROBE_TIMEOUT)
            if status == 200:
                return
            if status == 404 and endpoint == "/readyz":
                endpoint = "/healthz"
                continue
            last = f"daemon answered {status} on {endpoint}"
        except OSError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise ShimError(
                f"failed waiting for the multus daemon over {sock_path} to be ready: "
                f"{last}: timed out waiting for the condition", 11)
        time.sleep(READY_INTERVAL)


def _post(sock_path: str, environ: dict[str, str], stdin: bytes) -> tuple[int, str, bytes]:
    request = json.dumps({
        "env": environ,
        "config": base64.b64encode(stdin).decode(),
    }).encode()
    return _http(sock_path, "POST", "/cni", request)


def _failure(status: int, ctype: str, body: bytes, stdin: bytes) -> ShimError:
    if ctype.startswith("application/json"):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("msg"):
            code = doc.get("code")
            details = doc.get("details")
            return ShimError(str(doc["msg"]), code if isinstance(code, int) else 999,
                             details if isinstance(details, str) else "")
    text = body.decode(errors="replace")
    return ShimError(f"CNI request failed with status {status}: '{text}': StdinData: "
                     f"{stdin.decode(errors='replace')}")


def _print_add(body: bytes, cni_version: str) -> str:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ShimError(f"failed to decode the daemon's response: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Result"), dict):
        raise ShimError("the daemon's response has no result")
    printed = doc.get("printedResult")
    if isinstance(printed, str):
        return printed
    result = dict(doc["Result"])  # an upstream daemon: 1.0.0 only
    result["cniVersion"] = cni_version or result.get("cniVersion", "1.0.0")
    return _go_json(result)


def _daemon_gone_del(conf: dict[str, object], environ: dict[str, str], log: Log,
                     reason: str) -> None:
    cni_dir = str(conf.get("cniDir") or DEFAULT_CNI_DIR)
    cached = os.path.join(cni_dir, environ.get("CNI_CONTAINERID", ""))
    if not os.path.exists(cached):
        log.verbose(f"CmdDel (shim): daemon not reachable ({reason}); nothing cached at "
                    f"{cached}, nothing to delete")
        return
    raise ShimError(
        f"Daemon not reachable over socketfile: {reason}; the delegates of container "
        f"{environ.get('CNI_CONTAINERID', '')} are still cached at {cached}, DEL must be "
        "retried when the multus daemon is back", 11)


def _run(command: str, environ: dict[str, str], stdin: bytes,
         conf: dict[str, object], log: Log) -> str:
    sock_dir = str(conf.get("daemonSocketDir") or DEFAULT_SOCKET_DIR)
    sock_path = os.path.join(sock_dir, "multus.sock")
    if command == "DEL":
        try:
            status, _, _ = _http(sock_path, "POST", "/healthz", timeout=PROBE_TIMEOUT)
            if status != 200:
                raise OSError(f"daemon answered {status} on /healthz")
        except OSError as exc:
            _daemon_gone_del(conf, environ, log, f"CheckAPIReadyNow: {exc}")
            return ""
    else:
        _wait_ready(sock_path)
    try:
        status, ctype, body = _post(sock_path, environ, stdin)
    except OSError as exc:
        if command == "DEL":
            _daemon_gone_del(conf, environ, log, f"failed to send CNI request: {exc}")
            return ""
        raise ShimError(f"failed to send CNI request: {exc}: StdinData: "
                        f"{stdin.decode(errors='replace')}", 11) from None
    if status != 200:
        raise _failure(status, ctype, body, stdin)
    if command == "ADD":
        return _print_add(body, str(conf.get("cniVersion") or ""))
    return ""


def run(argv: list[str], environ: dict[str, str]) -> int:
    """One CNI call; returns the exit status."""
    if argv[1:] in (["-version"], ["-v"], ["--version"]):
        sys.stdout.write(f"{PROGRAM}: {_version_string()}\n")
        return 0
    command = environ.get("CNI_COMMAND", "")
    if not command:
        sys.stderr.write(f"{ABOUT}\nCNI protocol versions supported: {', '.join(SUPPORTED)}\n")
        return 0
    if command == "VERSION":
        sys.stdout.write(json.dumps({"cniVersion": "1.1.0", "supportedVersions":
                                     list(SUPPORTED)}, separators=(",", ":")) + "\n")
        return 0
    cni_version = ""
    log = Log({})
    try:
        _check_env(environ, command)
        stdin = sys.stdin.buffer.read()
        conf = _check_config(stdin, command)
        cni_version = str(conf.get("cniVersion") or "")
        log = Log(conf)
        try:
            out = _run(command, environ, stdin, conf, log)
        except ShimError as err:
            err.msg = f"{_PREFIX[command]} (shim): {err.msg}"
            raise
    except ShimError as err:
        log.error(err.msg)
        sys.stdout.write(_error_json(err, cni_version) + "\n")
        return 1
    if out:
        sys.stdout.write(out + "\n")
    return 0


def main() -> None:
    sys.exit(run(sys.argv, dict(os.environ)))


if __name__ == "__main__":
    main()
