"""The daemon from start to exit: upstream's start-up order and exit statuses (THK-04).

1. (the caller) load the config file — failure: status 1;
2. wait for ``readinessindicatorfile`` (1 s polls, 45 s) — timeout: status 1;
3. auto mode: build the config manager — failure: status 2; otherwise copy the user's
   config file into ``cniConfigDir`` (errors logged);
4. checks, socket directory, Kubernetes client, metrics, unix listener, the plugin core's
   lazily imported modules, watch caches (≤ 20 s to sync, only logged) and, once they
   synced, two API connections opened ahead of use — failure: status 3;
5. probe ``/healthz`` over the socket (100 ms, 60 s) — failure: status 1;
6. start the config manager (first ``00-multus.conf`` + watch) — failure: status 3;
7. serve until SIGTERM/SIGINT (status 0) or until the config manager asks to exit.

Unlike upstream the daemon keeps serving in non-auto mode (BUG-10), and shutdown is
graceful in every mode: ``/readyz`` turns 500, ``shutdownDelaySeconds`` pass, the server
stops accepting, in-flight requests finish, the socket file is removed. ``00-multus.conf``
stays unless ``cleanupConfigOnExit`` is set (BUG-11).
"""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from multusctl import fsutil
from multusctl.daemon import config as daemon_config
from multusctl.daemon import server as server_mod
from multusctl.daemon.config import DaemonConfig
from multusctl.daemon.service import CniService, DeviceAllocatorFactory, Reply
from multusctl.errors import MultusError
from multusctl.logs import Logger

if TYPE_CHECKING:
    from multusctl.daemon.informers import WarmKube

HEALTH_INTERVAL = 0.1
HEALTH_TIMEOUT = 60.0

#: What the plugin core imports on first use (the thin plugin loads only what a call
#: needs). A daemon loads it all at start-up: otherwise the first pods pay ~8 ms of CPU
#: each for imports (gRPC stays lazy: only ``resourceName`` requests need it).
REQUEST_PATH_MODULES = (
    "ctypes",
    "ipaddress",
    "multusctl.kube.podresources",
    "multusctl.nad.validate",
    "multusctl.plugin.k8s",
    "multusctl.plugin.status",
)


def preload_request_path() -> None:
    """Import :data:`REQUEST_PATH_MODULES` now rather than during the first requests."""
    for name in REQUEST_PATH_MODULES:
        importlib.import_module(name)


class ConfigManager(Protocol):
    """Keeps ``00-multus.conf`` current (``installer.thick.ShimConfigManager``)."""

    def start(self) -> None: ...

    def stop(self, *, cleanup: bool) -> None: ...


@dataclass
class Runtime:
    """What the caller (the CLI) provides: environment, logger, stop signal, factories."""

    environ: Mapping[str, str]
    log: Logger
    stop: threading.Event = field(default_factory=threading.Event)
    #: Builds the auto-mode config manager; its ``exit_request`` sets ``exit_code``.
    config_manager: Callable[[DaemonConfig, Callable[[int], None]], ConfigManager] | None = None
    stderr_sink: Callable[[bytes], None] | None = None
    exit_code: int = 0
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0
    #: Filled once the server listens (tests read it).
    service: CniService | None = None

    def request_exit(self, code: int) -> None:
        self.exit_code = code
        self.stop.set()


def probe(path: str, endpoint: str = "/healthz", *, method: str = "GET",
          timeout: float = 1.0) -> int:
    """One HTTP request over the unix socket; the status code (0 when unreachable)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(
            f"{method} {endpoint} HTTP/1.1\r\nHost: dummy\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = sock.recv(64)
    except OSError:
        return 0
    finally:
        sock.close()
    parts = head.split(b" ", 2)
    try:
        return int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return 0


def wait_healthy(path: str, stop: threading.Event) -> bool:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while not stop.is_set():
        if probe(path) == 200:
            return True
        if time.monotonic() >= deadline:
            return False
        stop.wait(HEALTH_INTERVAL)
    return False


def _wait_readiness(conf: DaemonConfig, rt: Runtime) -> bool:
    path = conf.readiness_indicator_file
    deadline = time.monotonic() + 45.0
    while not os.path.exists(path):
        if time.monotonic() >= deadline or rt.stop.is_set():
            rt.log.error(
                f"have you checked that your default network is ready? still waiting for "
                f"readinessindicatorfile @ {path}. pollimmediate error: timed out waiting for "
                "the condition"
            )
            return False
        rt.stop.wait(1.0)
    return True


def _copy_user_config(conf: DaemonConfig, log: Logger) -> None:
    """THK-06: the non-auto config file copied into ``cniConfigDir`` (errors logged)."""
    source = conf.multus_config_file
    target = os.path.join(conf.cni_config_dir, os.path.basename(source))
    try:
        if os.path.abspath(source) != os.path.abspath(target):
            fsutil.atomic_copy(source, target, mode=0o644)
    except OSError as exc:
        log.error(f"failed to copy the user provided configuration {source}: {exc}")


def run(conf: DaemonConfig, rt: Runtime) -> int:
    """Run the daemon until stopped; returns the process exit status."""
    log = rt.log
    if conf.readiness_indicator_file and not _wait_readiness(conf, rt):
        return 1
    manager: ConfigManager | None = None
    if conf.auto:
        if not conf.cni_version:
            log.error(
                "the CNI version is a mandatory parameter when the "
                "'-multus-config-file=auto' option is used"
            )
        if rt.config_manager is not None:
            try:
                manager = rt.config_manager(conf, rt.request_exit)
            except MultusError as exc:
                log.error(f"failed to create the configuration manager for multus: {exc}")
                return 2
    else:
        _copy_user_config(conf, log)
    try:
        parts = _start_server(conf, rt)
    except MultusError as exc:
        log.panic(f"failed start the multus thick-plugin listener: {exc}")
        return 3
    server, closers = parts
    try:
        if not wait_healthy(conf.socket_path, rt.stop):
            if rt.stop.is_set():
                return rt.exit_code
            log.error(f"failed waiting for the multus daemon to be healthy @ {conf.socket_path}")
            return 1
        if manager is not None:
            try:
                manager.start()
            except MultusError as exc:
                log.error(f"failed to start the multus thick-plugin config manager: {exc}")
                return 3
        log.verbose(f"multus daemon is serving on {conf.socket_path}")
        rt.stop.wait()
        log.verbose("multus daemon is shutting down")
        server.ready.clear()
        if conf.shutdown_delay > 0 and rt.exit_code == 0:
            time.sleep(conf.shutdown_delay)
        return rt.exit_code
    finally:
        server.stop()
        for close in closers:
            close()
        if manager is not None:
            manager.stop(cleanup=conf.cleanup_config_on_exit)
        log.verbose("multus daemon is exited")


def _start_server(
    conf: DaemonConfig, rt: Runtime
) -> tuple[server_mod.UnixHTTPServer, list[Callable[[], None]]]:
    log = rt.log
    daemon_config.validate(conf)
    if not rt.is_root():
        if conf.chroot_dir:
            raise MultusError("failed to run multus-daemon with root: chrootDir needs root")
        log.error("multus-daemon is not running as root: delegates may lack privileges")
    closers: list[Callable[[], None]] = []
    server_mod.prepare_socket_path(conf.socket_path)
    warm = _kube(conf, rt)
    if warm is not None:
        closers.append(warm.close)
    metrics = None
    if conf.metrics_port is not None:
        from multusctl.daemon.metrics import Metrics

        metrics = Metrics()
        metrics.serve(conf.metrics_port, log.error)
        closers.append(metrics.close)
        if warm is not None:
            metrics.watch_cache("pods", lambda: float(len(warm.pods)))
            metrics.watch_cache("net-attach-defs", lambda: float(len(warm.nads)))
            metrics.watch_api_requests(lambda: float(warm.request_count()))
    service = CniService(
        conf,
        log,
        kube=warm,
        metrics=metrics,
        stderr_sink=rt.stderr_sink,
        device_allocator=_device_allocator(log) if warm is not None else None,
    )
    rt.service = service
    server = server_mod.UnixHTTPServer(
        conf.socket_path,
        cni=service.handle_cni,
        delegate=_delegate_handler(service),
        metrics=metrics,
        connection_limit=conf.connection_limit,
        log_debug=log.debug,
    )
    preload_request_path()
    if warm is not None:
        warm.start()
        late = warm.wait_synced()
        for name in late:
            log.error(f"failed to sync the {name} informer cache (continuing with API reads)")
        if not late:
            warm.prime()
    thread = threading.Thread(target=server.serve_forever, name="multus-socket", daemon=True)
    thread.start()
    server.ready.set()
    return server, closers


def _delegate_handler(service: CniService) -> Callable[[bytes], Reply]:
    from multusctl.daemon import hotplug

    return lambda body: hotplug.handle(service, body)


def _kube(conf: DaemonConfig, rt: Runtime) -> WarmKube | None:
    """The daemon's own API access: ``kubeconfig`` key, else in-cluster, else none."""
    from multusctl.daemon import informers
    from multusctl.kube import rest

    try:
        if conf.kubeconfig:
            creds = rest.load_kubeconfig(conf.kubeconfig)
        elif rt.environ.get("KUBERNETES_SERVICE_HOST") and rt.environ.get(
            "KUBERNETES_SERVICE_PORT"
        ):
            creds = rest.in_cluster(rt.environ)
        else:
            rt.log.error(
                "no Kubernetes access (no kubeconfig key, not in a pod): serving "
                "delegates-mode configs only"
            )
            return None
    except MultusError as exc:
        raise MultusError(f"error getting k8s client: {exc}") from None
    return informers.WarmKube(
        creds,
        node_name=rt.environ.get("MULTUS_NODE_NAME", ""),
        pod_cache_max=conf.pod_cache_max,
        nad_cache_max=conf.nad_cache_max,
        async_events=conf.async_events,
        on_error=rt.log.error,
    )


def _device_allocator(log: Logger) -> DeviceAllocatorFactory:
    """NAD-06: device IDs for a pod from the kubelet, asked on first need only."""

    def factory(pod: dict[str, Any]) -> Callable[[str], str | None]:
        from multusctl.kube import podresources

        meta = pod.get("metadata") or {}
        allocator = podresources.allocator_for_pod(
            str(meta.get("name", "")),
            str(meta.get("namespace", "")),
            str(meta.get("uid", "")),
            log_error=log.error,
            log_debug=log.debug,
        )
        return allocator.take

    return factory
