"""The plugin logger, compatible with upstream Multus' ``pkg/logging`` (stdlib only).

LOG-01…LOG-06: four levels (``panic`` < ``error`` < ``verbose`` < ``debug``, default
``panic``); each line reads ``<RFC3339 local time> [<level>] <message>``; it goes to
stderr (when enabled) and to a log file rotated the way upstream's lumberjack does it
(size limit, backups named ``<name>-<UTC time>.<ext>``, gzip, pruning by count and age).

There is no module-level state: the composition root creates one :class:`Logger` and
passes it down. Nothing here ever writes to stdout, and logging never raises: a sink
that fails is skipped, as upstream ignores its write errors.

Differences from upstream, on purpose:

* BUG-02: rotation options apply whatever order :meth:`Logger.set_options` and
  :meth:`Logger.set_file` are called in (upstream drops them when they come first,
  which is always the case in the thin plugin).
* A line is written to the file in one piece, so a rotation never splits it.
* Compression and pruning of backups happen right away, not in a background task that a
  short-lived plugin process may never let finish.
* A new log file is created with mode 0600 (upstream's vendored lumberjack v2.0.0 uses
  0644 minus the umask); a file created by rotation keeps the mode of the one it replaces.
"""

from __future__ import annotations

import contextlib
import enum
import io
import os
import re
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from multusctl.fsutil import atomic_write

__all__ = ["MEGABYTE", "Level", "Logger", "Rotation", "parse_level", "rfc3339"]

MEGABYTE = 1024 * 1024
_DEFAULT_MAX_SIZE_MB = 100
_BACKUP_TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}")
_PANIC_TRAILER = (
    "========= Stack trace output ========",
    "Multus Panic",
    "========= Stack trace output end ========",
)


class Level(enum.IntEnum):
    """Upstream's levels; a message is printed when its level <= the logger's level."""

    PANIC = 0
    ERROR = 1
    VERBOSE = 2
    DEBUG = 3

    def __str__(self) -> str:
        return self.name.lower()


def parse_level(name: str) -> Level | None:
    """``"Verbose"`` → :attr:`Level.VERBOSE`; ``None`` for an unknown name."""
    try:
        return Level[name.upper()]
    except KeyError:
        return None


def rfc3339(moment: datetime) -> str:
    """Go's ``time.RFC3339`` in local time: ``2024-05-01T10:00:00+02:00``, ``Z`` for UTC."""
    local = moment.astimezone()
    offset = local.utcoffset() or timedelta(0)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}:{mins:02d}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Rotation:
    """Log file rotation (upstream ``logOptions``, lumberjack's settings)."""

    max_size: float = _DEFAULT_MAX_SIZE_MB
    """Megabytes (MiB) before the file is rotated; 0 means 100. Fractions are allowed."""
    max_backups: int = 5
    """Rotated files to keep; 0 keeps all (subject to ``max_age``)."""
    max_age: int = 5
    """Days to keep rotated files (by the time in their name); 0 keeps them forever."""
    compress: bool = True
    """Gzip rotated files."""

    def limit(self) -> int:
        """The size limit in bytes. A line longer than that is not written to the file."""
        return int((self.max_size or _DEFAULT_MAX_SIZE_MB) * MEGABYTE)


def _go_ext(name: str) -> str:
    """Go's ``filepath.Ext``: from the last dot of the base name (``.log`` for ``.log``)."""
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


class _RotatingFile:
    """An append-only file sink with lumberjack's rotation rules."""

    def __init__(self, path: str, rotation: Rotation, now: Callable[[], datetime]) -> None:
        self.path = Path(path)
        self.rotation = rotation
        self._now = now
        self._fd: int | None = None
        self._size = 0

    # ----------------------------------------------------------------- writing

    def write(self, data: bytes) -> None:
        if len(data) > self.rotation.limit():
            return
        if self._fd is None:
            self._open_existing_or_new(len(data))
        elif self._size + len(data) > self.rotation.limit():
            self._rotate()
        if self._fd is None:
            return
        written = os.write(self._fd, data)
        self._size += written

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    def _open_existing_or_new(self, pending: int) -> None:
        self._mill()
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._open_new()
            return
        if info.st_size + pending >= self.rotation.limit():
            self._rotate()
            return
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except OSError:
            self._open_new()
            return
        self._size = info.st_size

    def _rotate(self) -> None:
        self.close()
        self._open_new()
        self._mill()

    def _open_new(self) -> None:
        self.path.parent.mkdir(mode=0o744, parents=True, exist_ok=True)
        mode = 0o600
        owner: tuple[int, int] | None = None
        try:
            info = self.path.stat()
        except FileNotFoundError:
            info = None
        if info is not None:
            mode = stat.S_IMODE(info.st_mode)
            owner = (info.st_uid, info.st_gid)
            self.path.rename(self._backup_name())
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, mode)
        if owner is not None and os.geteuid() == 0:
            with contextlib.suppress(OSError):
                os.fchown(fd, *owner)
        self._fd = fd
        self._size = 0

    # ----------------------------------------------------------------- backups

    def _prefix_and_ext(self) -> tuple[str, str]:
        ext = _go_ext(self.path.name)
        return self.path.name[: len(self.path.name) - len(ext)] + "-", ext

    def _backup_name(self) -> Path:
        prefix, ext = self._prefix_and_ext()
        moment = self._now().astimezone(UTC)
        stamp = moment.strftime("%Y-%m-%dT%H-%M-%S.") + f"{moment.microsecond // 1000:03d}"
        return self.path.with_name(f"{prefix}{stamp}{ext}")

    def backups(self) -> list[tuple[datetime, str]]:
        """Rotated files of this log (plain or ``.gz``), newest first."""
        prefix, ext = self._prefix_and_ext()
        found: list[tuple[datetime, str]] = []
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return found
        for entry in entries:
            if entry.is_dir() or not entry.name.startswith(prefix):
                continue
            for suffix in (ext, ext + ".gz"):
                if not entry.name.endswith(suffix):
                    continue
                stamp = entry.name[len(prefix) : len(entry.name) - len(suffix)]
                if not _BACKUP_TIME_RE.fullmatch(stamp):
                    continue
                try:
                    moment = datetime.strptime(stamp, "%Y-%m-%dT%H-%M-%S.%f")
                except ValueError:
                    continue
                found.append((moment.replace(tzinfo=UTC), entry.name))
                break
        found.sort(key=lambda item: item[0], reverse=True)
        return found

    def _mill(self) -> None:
        """Prune backups by count and age, then gzip the remaining plain ones."""
        rot = self.rotation
        if rot.max_backups == 0 and rot.max_age == 0 and not rot.compress:
            return
        files = self.backups()
        remove: list[str] = []
        if 0 < rot.max_backups < len(files):
            kept_names: set[str] = set()
            remaining = []
            for moment, name in files:
                kept_names.add(name.removesuffix(".gz"))
                if len(kept_names) > rot.max_backups:
                    remove.append(name)
                else:
                    remaining.append((moment, name))
            files = remaining
        if rot.max_age > 0:
            cutoff = self._now() - timedelta(days=rot.max_age)
            remaining = []
            for moment, name in files:
                if moment < cutoff:
                    remove.append(name)
                else:
                    remaining.append((moment, name))
            files = remaining
        for name in remove:
            with contextlib.suppress(OSError):
                (self.path.parent / name).unlink()
        if rot.compress:
            for _, name in files:
                if not name.endswith(".gz"):
                    self._compress(self.path.parent / name)

    @staticmethod
    def _compress(src: Path) -> None:
        import gzip  # only when a rotated file is compressed: not on the CNI hot path
        import shutil

        dst = src.with_name(src.name + ".gz")
        try:
            info = src.stat()
            buffer = io.BytesIO()
            with (
                src.open("rb") as plain,
                gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as packed,
            ):
                shutil.copyfileobj(plain, packed)
            atomic_write(dst, buffer.getvalue(), mode=stat.S_IMODE(info.st_mode))
            if os.geteuid() == 0:
                with contextlib.suppress(OSError):
                    os.chown(dst, info.st_uid, info.st_gid)
            src.unlink()
        except OSError:
            with contextlib.suppress(OSError):
                dst.unlink()


def _format(msg: str, args: tuple[object, ...]) -> str:
    if not args:
        return msg
    try:
        return msg % args
    except (TypeError, ValueError):  # a bad format string must not break the caller
        return " ".join([msg, *map(str, args)])


class Logger:
    """One logger per process, created by the composition root and passed down.

    ``stderr`` is the stream for the stderr sink and for the "cannot set logging level"
    warning (pass ``sys.stderr``; ``None`` drops both). ``now`` returns the current time
    as an aware datetime (tests inject a fake clock).
    """

    def __init__(
        self,
        *,
        stderr: TextIO | None = None,
        log_to_stderr: bool = True,
        level: Level = Level.PANIC,
        log_file: str = "",
        rotation: Rotation | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._stderr = stderr
        self.log_to_stderr = log_to_stderr
        self.level = level
        self._rotation = rotation or Rotation()
        self._now = now
        self._file: _RotatingFile | None = None
        self._lock = threading.Lock()
        if log_file:
            self.set_file(log_file)

    # ----------------------------------------------------------------- configuration

    def set_level(self, name: str) -> None:
        """Case-insensitive level name; an unknown one warns on stderr and changes nothing."""
        level = parse_level(name)
        if level is None:
            self._warn(f"multus logging: cannot set logging level to {name}\n")
            return
        self.level = level

    def set_stderr(self, enabled: bool) -> None:
        self.log_to_stderr = enabled

    def set_file(self, path: str) -> None:
        """Log to ``path`` as well (created on the first line). An empty path changes nothing."""
        if not path:
            return
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._file = _RotatingFile(path, self._rotation, self._now)

    def set_options(
        self,
        *,
        max_age: int | None = None,
        max_size: float | None = None,
        max_backups: int | None = None,
        compress: bool | None = None,
    ) -> None:
        """Upstream ``logOptions``: each value given overrides its default, the rest reset.

        Takes effect whether or not a log file is set yet (upstream BUG-02).
        """
        rotation = Rotation()
        if max_age is not None:
            rotation = replace(rotation, max_age=max_age)
        if max_size is not None:
            rotation = replace(rotation, max_size=max_size)
        if max_backups is not None:
            rotation = replace(rotation, max_backups=max_backups)
        if compress is not None:
            rotation = replace(rotation, compress=compress)
        self.set_rotation(rotation)

    def set_rotation(self, rotation: Rotation) -> None:
        with self._lock:
            self._rotation = rotation
            if self._file is not None:
                self._file.rotation = rotation

    @property
    def rotation(self) -> Rotation:
        return self._rotation

    @property
    def log_file(self) -> str:
        return str(self._file.path) if self._file is not None else ""

    def enabled(self, level: Level) -> bool:
        return level <= self.level

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()

    # ----------------------------------------------------------------- logging

    def debug(self, msg: str, *args: object) -> None:
        self._log(Level.DEBUG, msg, args)

    def verbose(self, msg: str, *args: object) -> None:
        self._log(Level.VERBOSE, msg, args)

    def error(self, msg: str, *args: object) -> None:
        self._log(Level.ERROR, msg, args)

    def errorf(self, msg: str, *args: object) -> str:
        """Log at error level and return the message, so the caller can raise with it.

        Upstream's ``Errorf`` both logs and returns an error with the same text:
        ``raise InvalidConfig(log.errorf(f"..."))``.
        """
        return self._log(Level.ERROR, msg, args)

    def panic(self, msg: str, *args: object) -> None:
        """Log at panic level followed by upstream's stack-trace markers (LOG-06)."""
        self._log(Level.PANIC, msg, args)
        for line in _PANIC_TRAILER:
            self._log(Level.PANIC, line, ())

    def _log(self, level: Level, msg: str, args: tuple[object, ...]) -> str:
        text = _format(msg, args)
        if level > self.level:
            return text
        line = f"{rfc3339(self._now())} [{level}] {text}\n"
        with self._lock:
            if self.log_to_stderr:
                self._warn(line)
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.write(line.encode("utf-8", errors="replace"))
        return text

    def _warn(self, text: str) -> None:
        if self._stderr is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._stderr.write(text)
            self._stderr.flush()
