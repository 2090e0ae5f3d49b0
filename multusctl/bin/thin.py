"""The thin plugin's composition root: one CNI call (ADD/DEL/CHECK/STATUS/GC) end to end.

``multusctl.bin.multus`` (the executable's entry point) imports this module only for real
CNI commands, so VERSION answers without loading the plugin core. Only the ``bin`` modules
touch ``os.environ``, ``sys.stdin`` and ``sys.stdout``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from multusctl.cni import skel
from multusctl.cni.env import CniEnv
from multusctl.errors import MultusError
from multusctl.logs import Logger
from multusctl.plugin import commands, netconf
from multusctl.plugin.ports import KubeAPI


def _logger(conf: netconf.NetConf) -> Logger:
    opts = conf.log_options
    log = Logger(stderr=sys.stderr, log_to_stderr=conf.log_to_stderr)
    if conf.log_level:
        log.set_level(conf.log_level)
    log.set_options(
        max_age=opts.max_age,
        max_size=opts.max_size,
        max_backups=opts.max_backups,
        compress=opts.compress,
    )
    if conf.log_file:
        log.set_file(conf.log_file)
    return log


def _stderr_sink(data: bytes) -> None:
    sys.stderr.write(data.decode(errors="replace"))


class Plugin:
    """Builds a :class:`commands.Request` per call and runs the matching command."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.log: Logger | None = None

    def _request(self, env: CniEnv, stdin: bytes, *, load_prefix: str) -> commands.Request:
        try:
            conf = netconf.load(stdin)
        except MultusError as exc:
            raise exc.prefixed(load_prefix) from None
        self.log = _logger(conf)
        return commands.Request(
            env=env,
            conf=conf,
            environ=self.environ,
            log=self.log,
            kube=self._kube(conf, env),
            stderr_sink=_stderr_sink,
            device_allocator=self._device_allocator,
        )

    def _device_allocator(self, pod: dict[str, Any]) -> Callable[[str], str | None]:
        """NAD-06: device IDs for this pod from the kubelet, asked on first need only."""
        from multusctl.kube import podresources

        meta = pod.get("metadata") or {}
        log = self.log
        allocator = podresources.allocator_for_pod(
            str(meta.get("name", "")),
            str(meta.get("namespace", "")),
            str(meta.get("uid", "")),
            log_error=log.error if log is not None else None,
            log_debug=log.debug if log is not None else None,
        )
        return allocator.take

    def _kube(self, conf: netconf.NetConf, env: CniEnv) -> KubeAPI | None:
        """CFG-10: a kubeconfig, the in-cluster env, or no Kubernetes at all."""
        if not conf.kubeconfig and not (
            self.environ.get("KUBERNETES_SERVICE_HOST")
            and self.environ.get("KUBERNETES_SERVICE_PORT")
        ):
            return None
        from multusctl.kube import api, rest

        try:
            client = rest.connect(conf.kubeconfig, self.environ)
        except MultusError as exc:
            if env.command == "DEL" and self.log is not None:
                # DEL must still work from the cache when the kubeconfig is broken.
                self.log.error(f"Multus: error getting k8s client: {exc}; deleting from cache")
                return None
            raise exc.prefixed("Multus: error getting k8s client: ") from None
        return None if client is None else api.RestKube(client)

    def add(self, env: CniEnv, stdin: bytes) -> Mapping[str, Any]:
        return commands.cmd_add(
            self._request(env, stdin, load_prefix="Multus: error loading netconf: ")
        )

    def delete(self, env: CniEnv, stdin: bytes) -> None:
        commands.cmd_del(self._request(env, stdin, load_prefix=""))

    def check(self, env: CniEnv, stdin: bytes) -> None:
        commands.cmd_check(
            self._request(env, stdin, load_prefix="Multus: error loading netconf: ")
        )

    def status(self, env: CniEnv, stdin: bytes) -> None:
        commands.cmd_status(
            self._request(env, stdin, load_prefix="Multus: error loading netconf: ")
        )

    def gc(self, env: CniEnv, stdin: bytes) -> None:
        commands.cmd_gc(self._request(env, stdin, load_prefix="Multus: error loading netconf: "))

    def unexpected(self, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        if self.log is not None:
            self.log.error(f"unexpected error: {text}")
        else:
            sys.stderr.write(text)


def run(environ: Mapping[str, str]) -> int:
    """Run one CNI command with the given environment; returns the exit status."""
    plugin = Plugin(environ)
    return skel.run(
        environ,
        sys.stdin.buffer.read,
        sys.stdout.write,
        sys.stderr.write,
        skel.Handlers(
            add=plugin.add,
            delete=plugin.delete,
            check=plugin.check,
            status=plugin.status,
            gc=plugin.gc,
        ),
        on_unexpected=plugin.unexpected,
    )
