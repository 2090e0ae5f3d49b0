"""Atomic file operations: every file multusctl writes goes through here."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, mode: int = 0o600, *, durable: bool = True
) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never less.

    The temp file lives in the destination directory (same filesystem), gets ``mode`` and
    is renamed over the destination. On any failure it is removed. ``durable`` fsyncs it
    first; per-pod caches skip that (as libcni does): they are on every pod's critical path
    and a node crash takes the pods' namespaces with it.
    """
    dest = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_copy(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], mode: int = 0o755
) -> None:
    """Copy ``src`` over ``dest`` by temp file + rename in the destination directory.

    A process executing the old ``dest`` keeps its inode, so there is never a
    "text file busy" error and never a half-written binary.
    """
    target = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, Path(src).open("rb") as inp:
            shutil.copyfileobj(inp, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_quietly(path: str | os.PathLike[str]) -> bool:
    """Remove a file if it exists. Returns whether something was removed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
