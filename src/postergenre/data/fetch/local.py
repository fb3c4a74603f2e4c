"""Reading a poster from a local path: regular files only, in chunks, under the size limit."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .failures import FetchFailure
from .storage import LimitedWriter, check_size

CHUNK = 1 << 20
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def copy_local(path: str, tmp: Path, max_bytes: int) -> None:
    """Copy the regular file ``path`` into ``tmp``; ``FetchFailure`` for anything else.

    Opening never blocks (as a FIFO without a writer would), anything but a regular file is
    refused, and reading stops at ``max_bytes``, so neither a pipe nor ``/dev/zero`` can hang
    the run or fill the disk.
    """
    with _read_errors(path):
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((k for test, k in _KINDS if test(info.st_mode)), "a special file")
            raise FetchFailure("not-a-file", f"{path} is {kind}, not a regular file")
        check_size(info.st_size, max_bytes, "file size")
        with open(tmp, "wb") as dst:
            sink = LimitedWriter(dst, max_bytes)
            while True:
                with _read_errors(path):
                    chunk = os.read(fd, CHUNK)
                if not chunk:
                    return
                sink.write(chunk)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _read_errors(path: str):
    """A failure to open or read ``path`` as ``missing-file`` (writing errors pass)."""
    try:
        yield
    except OSError as e:
        raise FetchFailure("missing-file", f"{path}: {e.strerror or e}") from None
