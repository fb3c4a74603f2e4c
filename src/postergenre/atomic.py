"""Where output goes: a location checked before any work (``check_output``), and atomic
writes (a reader sees the old file or the whole new one, never half of it) whose OS errors
end as a ``UserError`` naming the path."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UserError


def file_mode() -> int:
    """The permissions ``open()`` gives a new file under the process's umask (read from
    ``/proc`` where it can be: setting the umask to read it races with other threads)."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def check_output(path: str | os.PathLike, option: str, folder: bool = True) -> Path:
    """Refuse, before any work, an output ``path`` (a folder to fill, or with ``folder=False``
    a file) that cannot be written: a file where a folder is needed or the reverse, a path
    under a file, a folder (or the nearest existing one above it) where no file can be
    created. ``UserError`` naming ``option`` and the path; nothing is left behind."""
    path = Path(path)
    try:
        _check_place(path, option, folder)
    except OSError as e:  # a name too long, a loop of links, ...
        raise UserError(f"{path}: {e.strerror or e}; choose another {option}") from None
    return path


def _check_place(path: Path, option: str, folder: bool) -> None:
    if path.is_symlink() and not path.exists():
        raise UserError(f"{path}: a link to nothing ({os.readlink(path)}); choose another "
                        f"{option}")
    if folder and path.exists() and not path.is_dir():
        raise UserError(f"{path}: is a file, not a folder; choose another {option}")
    if not folder and path.is_dir():
        raise UserError(f"{path}: is a folder; {option} names a file")
    target = path if folder else path.parent
    existing = next(p for p in (target, *target.parents) if p.exists() or p == Path(p.anchor))
    if not existing.is_dir():
        raise UserError(f"{path}: {existing} is a file, not a folder; choose another {option}")
    try:
        new_temp(existing, ".postergenre-probe.", ".tmp").unlink()
    except OSError as e:
        raise UserError(f"{path}: cannot write in {existing} ({e.strerror or e}); choose "
                        f"another {option}") from None


def new_temp(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file in ``folder`` with the umask's permissions (``mkstemp`` makes
    owner-only files)."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    try:
        os.fchmod(fd, file_mode())
    finally:
        os.close(fd)
    return Path(name)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the same folder; on success it is renamed onto ``path``.
    An OS error about the file or its folder is a ``UserError`` naming ``path``."""
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = new_temp(path.parent, f".{path.name}.", ".tmp")
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.filename not in (None, str(tmp), str(path), *map(str, path.parents)):
            raise  # about another file the writer read
        raise UserError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


@contextmanager
def temp_folder() -> Iterator[Path]:
    """A temporary folder (in ``$TMPDIR``), removed afterwards; an OS error making it or
    writing in it is a ``UserError`` naming where."""
    try:
        scratch = tempfile.TemporaryDirectory()
    except OSError as e:
        raise UserError(f"{e.filename or tempfile.tempdir}: cannot make a temporary folder "
                        f"({e.strerror or e}); set TMPDIR to a writable folder") from None
    with scratch as name:
        try:
            yield Path(name)
        except OSError as e:
            if not str(e.filename or "").startswith(name):
                raise
            raise UserError(f"{e.filename}: cannot write a temporary file ({e.strerror or e}); "
                            "set TMPDIR to a folder with room") from None


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_with(path: str | os.PathLike, writer: Callable[[Path], object]) -> None:
    """Call ``writer(tmp_path)`` (what it returns is ignored) and move the result onto
    ``path`` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
