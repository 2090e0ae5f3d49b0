"""One error tree for the whole package.

Every error raised on purpose derives from :class:`MultusError` and carries both the
CNI error code it maps to (for the plugin boundary, rendered as CNI error JSON on
stdout) and the process exit status it maps to (for the CLI boundary, rendered as one
readable line on stderr).
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Process exit statuses of the ``multusctl`` CLI (documented in docs/reference)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_READY = 3
    INTERNAL = 70
    INTERRUPTED = 130


class CniCode(enum.IntEnum):
    """Well-known error codes of the CNI specification (SPEC.md, "Error")."""

    INCOMPATIBLE_VERSION = 1
    UNSUPPORTED_FIELD = 2
    UNKNOWN_CONTAINER = 3
    INVALID_ENVIRONMENT = 4
    IO_FAILURE = 5
    DECODE_FAILURE = 6
    INVALID_NETWORK_CONFIG = 7
    TRY_AGAIN_LATER = 11
    PLUGIN_NOT_AVAILABLE = 50
    LIMITED_CONNECTIVITY = 51
    INTERNAL = 999


class MultusError(Exception):
    """Base of every deliberate error. ``msg`` is the CNI ``msg``; ``details`` optional."""

    cni_code: int = CniCode.INTERNAL
    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, msg: str, details: str = "", *, code: int | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details
        if code is not None:
            self.cni_code = code

    def __str__(self) -> str:
        return self.msg

    def prefixed(self, prefix: str) -> MultusError:
        """Put ``prefix`` in front of the message, keeping class, code and details."""
        self.msg = prefix + self.msg
        self.args = (self.msg,)
        return self


class IncompatibleVersion(MultusError):
    cni_code = CniCode.INCOMPATIBLE_VERSION


class InvalidEnvironment(MultusError):
    cni_code = CniCode.INVALID_ENVIRONMENT
    exit_status = ExitStatus.USAGE


class IOFailure(MultusError):
    cni_code = CniCode.IO_FAILURE


class DecodeError(MultusError):
    cni_code = CniCode.DECODE_FAILURE
    exit_status = ExitStatus.USAGE


class InvalidConfig(MultusError):
    cni_code = CniCode.INVALID_NETWORK_CONFIG
    exit_status = ExitStatus.USAGE


class TryAgainLater(MultusError):
    cni_code = CniCode.TRY_AGAIN_LATER
    exit_status = ExitStatus.NOT_READY


class KubeError(MultusError):
    """An API server call failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, msg: str, details: str = "", *, status: int = 0) -> None:
        super().__init__(msg, details)
        self.status = status


class KubeNotFound(KubeError):
    pass


class KubeForbidden(KubeError):
    pass


class KubeConflict(KubeError):
    pass


class KubeUnavailable(KubeError, TryAgainLater):
    """The API server could not be reached or answered 5xx/429: retriable (CNI code 11)."""


class DelegateError(MultusError):
    """A delegate plugin failed. The delegate's own CNI code is passed through.

    Policy (docs/reference/cni-errors.md): when the delegate printed a CNI error we keep
    its code, so the runtime sees e.g. 11 (try again later) from the real culprit; when it
    printed nothing parseable we use 999, as upstream's skel does.
    """

    def __init__(
        self,
        msg: str,
        details: str = "",
        *,
        code: int = CniCode.INTERNAL,
        plugin: str = "",
        network: str = "",
    ) -> None:
        super().__init__(msg, details, code=code)
        self.plugin = plugin
        self.network = network
