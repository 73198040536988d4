"""Writing files so that a reader never sees half of one: a temporary file, then a rename."""

from __future__ import annotations

import os
import tempfile


def write_atomic(path: str, text: str | bytes) -> None:
    """Write `text` (UTF-8; bytes as they are) to `path` in one step; on any failure the old file is untouched.

    The temporary file lives in the target's directory, so the final os.replace is a rename
    on one file system. An existing file keeps its permission bits; a symbolic link is written
    through (the file it points to is replaced, the link kept).
    """
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(prefix=".cnnspec-", suffix=".tmp", dir=directory)
    try:
        binary = isinstance(text, bytes)
        with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        _keep_mode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _keep_mode(path: str, temporary: str) -> None:
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temporary, mode)
