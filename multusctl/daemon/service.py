"""What the daemon does with one request on ``/cni``: decode, override, run the core, answer.

The HTTP layer (``daemon.server``) hands raw bodies to :class:`CniService` and writes back
the :class:`Reply`. The plugin core (``multusctl.plugin.commands``) is the same one the thin
plugin runs; only the adapters differ (warm Kubernetes caches, the host-root executor).

Concurrency: every request runs in its own thread, but at most ``maxConcurrentRequests``
execute the core at once; the rest wait for a slot (they never fail for lack of one).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from multusctl.cni import invoke
from multusctl.cni.env import CniEnv
from multusctl.daemon import config as daemon_config
from multusctl.daemon import wire
from multusctl.errors import KubeError, MultusError
from multusctl.plugin import commands, netconf
from multusctl.plugin.ports import KubeAPI, Log

if TYPE_CHECKING:
    from multusctl.daemon.metrics import Metrics

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"



@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, body, content type."""

    status: int
    body: bytes = b""
    content_type: str = TEXT


class KubeProvider(Protocol):
    """The daemon's shared Kubernetes state (``daemon.informers.WarmKube``)."""

    def for_request(self, pod_uid: str = "") -> KubeAPI: ...

    def pod_uid(self, namespace: str, name: str) -> str: ...


DeviceAllocatorFactory = Callable[[dict[str, Any]], Callable[[str], str | None]]


class CniService:
    """Serves ``/cni`` requests. Thread-safe: one instance for the whole daemon."""

    def __init__(
        self,
        conf: daemon_config.DaemonConfig,
        log: Log,
        *,
        kube: KubeProvider | None = None,
        metrics: Metrics | None = None,
        stderr_sink: Callable[[bytes], None] | None = None,
        device_allocator: DeviceAllocatorFactory | None = None,
    ) -> None:
        self.conf = conf
        self.log = log
        self.kube = kube
        self.metrics = metrics
        self.stderr_sink = stderr_sink
        self.device_allocator = device_allocator
        #: Per-delegate-type timing for ``multus_delegate_duration_seconds`` (None: off).
        self.delegate_observer: invoke.DelegateObserver | None = (
            metrics.observe_delegate if metrics is not None else None
        )
        self._slots = threading.BoundedSemaphore(conf.max_concurrent_requests)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.served = 0

    # ------------------------------------------------------------------ concurrency

    @contextmanager
    def _slot(self) -> Iterator[None]:
        metrics = self.metrics
        if metrics is not None:
            metrics.waiting.inc()
        self._slots.acquire()
        if metrics is not None:
            metrics.waiting.dec()
            metrics.in_flight.inc()
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                self.served += 1
            if metrics is not None:
                metrics.in_flight.dec()
            self._slots.release()

    # ------------------------------------------------------------------ /cni

    def handle_cni(self, body: bytes) -> Reply:
        try:
            request = wire.decode_request(body)
            args = wire.extract(request.env)
        except wire.RequestError as exc:
            self.log.error(exc.msg)
            return Reply(400, f"{exc.msg}\n".encode())
        args_or_reply = self._recover_uid(args)
        if isinstance(args_or_reply, Reply):
            return args_or_reply
        args = args_or_reply
        started = time.monotonic()
        ok = False
        with self._slot():
            try:
                reply = self._run(args, request)
                ok = True
            except MultusError as exc:
                self.log.error(f"{args.printed()} ERRORED: {exc.msg}")
                reply = Reply(400, wire.error_body(exc), JSON)
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the daemon
                text = "".join(traceback.format_exception(exc))
                self.log.error(f"{args.printed()} ERRORED: internal error: {text}")
                reply = Reply(400, f"{args.printed()} ERRORED: internal error: {exc}\n".encode())
        if self.metrics is not None:
            self.metrics.observe_command(args.command, time.monotonic() - started, ok=ok)
        return reply

    def _recover_uid(self, args: wire.CmdArgs) -> wire.CmdArgs | Reply:
        """THK-09: a missing ``K8S_POD_UID`` is looked up; DEL carries on without it."""
        if args.pod_uid or not args.pod_name or self.kube is None:
            return args
        try:
            uid = self.kube.pod_uid(args.pod_namespace, args.pod_name)
        except KubeError as exc:
            if args.command == "DEL":
                self.log.verbose(
                    f"{args.printed()}: missing pod UID and the pod is not readable "
                    f"({exc}); deleting without it"
                )
                return args
            message = (
                "missing pod UID; attempted to recover it from the K8s API, but failed: "
                f"{exc}"
            )
            self.log.error(message)
            return Reply(400, f"{message}\n".encode())
        return wire.with_pod_uid(args, uid) if uid else args

    def _request(self, args: wire.CmdArgs, request: wire.WireRequest) -> commands.Request:
        merged = daemon_config.override(request.config, self.conf)
        prefix = "" if args.command == "DEL" else "Multus: error loading netconf: "
        try:
            conf = netconf.load(merged)
        except MultusError as exc:
            raise exc.prefixed(prefix) from None
        env = CniEnv(
            command=args.command,
            container_id=args.container_id,
            netns=args.netns,
            ifname=args.ifname,
            args=args.args,
            path=args.path,
            arg_pairs=args.arg_pairs,
        )
        kube = self.kube.for_request(args.pod_uid) if self.kube is not None else None
        return commands.Request(
            env=env,
            conf=conf,
            environ=request.env,
            log=self.log,
            kube=kube,
            stderr_sink=self.stderr_sink,
            device_allocator=self.device_allocator,
            chroot_dir=self.conf.chroot_dir,
            delegate_observer=self.delegate_observer,
        )

    def _run(self, args: wire.CmdArgs, request: wire.WireRequest) -> Reply:
        req = self._request(args, request)
        if args.command == "ADD":
            try:
                result = commands.cmd_add(req)
            except MultusError as exc:
                self.log.error(
                    f"error configuring pod [{args.pod_namespace}/{args.pod_name}] "
                    f"networking: {exc.msg}"
                )
                raise
            return Reply(200, wire.add_response(result, request.config), JSON)
        handlers: Mapping[str, Callable[[commands.Request], None]] = {
            "DEL": commands.cmd_del,
            "CHECK": commands.cmd_check,
            "STATUS": commands.cmd_status,
            "GC": commands.cmd_gc,
        }
        handlers[args.command](req)
        return Reply(200)
