"""Posters on disk: size-limited writing, proof that a file is an image, the atomic move into
place, and the resumable state (which ids already have a valid poster)."""

from __future__ import annotations

import io
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd
from PIL import Image

from ...atomic import new_temp, write_with
from ..images import IMAGE_SUFFIXES, ImageError, content_hash, decode
from .failures import FetchFailure

FORMAT_SUFFIX = {  # the usual suffix of a format (Pillow registers several for some)
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
}
MANIFEST_COLUMNS = ["id", "file", "url", "sha256", "bytes"]


@dataclass(frozen=True)
class Layout:
    """Where a dataset folder keeps things. The reports live in a sub-folder because
    ``load_dataset`` reads every table in the folder itself."""

    out: Path
    table: Path  # the filtered table
    posters: Path  # one <id>.<ext> per poster
    reports: Path
    manifest: Path  # id,file,url,sha256,bytes of every poster present
    failures: Path  # id,url,reason,attempts,detail
    report: Path

    @classmethod
    def of(cls, out: Path) -> Layout:
        reports = out / "fetch"
        files = ("posters.csv", "failures.csv", "report.json")
        return cls(out, out / "movies.csv", out / "posters", reports, *(reports / f for f in files))


def check_size(size: int, max_bytes: int, what: str) -> None:
    """``too-large`` if a declared ``size`` is over the limit."""
    if size > max_bytes:
        raise FetchFailure(
            "too-large", f"{what}: {size:,} bytes, over the {max_bytes:,}-byte limit"
        )


class LimitedWriter:
    """Writes chunks to a file and fails with ``too-large`` before it grows past the limit."""

    def __init__(self, file: BinaryIO, max_bytes: int):
        self.file, self.max_bytes, self.size = file, max_bytes, 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise FetchFailure("too-large", f"more than the {self.max_bytes:,}-byte limit")
        self.file.write(chunk)


def validate(data: bytes, content_type: str = "") -> str:
    """The file suffix for a poster's bytes, or ``FetchFailure`` if they are not an image."""
    try:
        decode(data)
    except ImageError as e:
        detail = str(e)
        if data[:200].lstrip()[:1] == b"<":
            detail += "; the body looks like HTML/XML (an error or login page?)"
        if content_type:
            detail += f"; served as {content_type}"
        raise FetchFailure("not-an-image", detail) from None
    fmt = Image.open(io.BytesIO(data)).format or ""
    suffix = FORMAT_SUFFIX.get(fmt) or min(
        (e for e, f in Image.registered_extensions().items() if f == fmt and e in IMAGE_SUFFIXES),
        default=None)  # any other format a folder scan reads (AVIF, JPEG 2000, ...)
    if suffix is None:
        raise FetchFailure("unsupported-format", f"{fmt} image")
    return suffix


def temp_in(folder: Path, id_: str) -> Path:
    """A new empty ``.<id>.*.part`` file in ``folder`` (hidden, so never taken for a poster),
    with the umask's permissions like every file a run writes."""
    return new_temp(folder, f".{id_}.", ".part")


def remove_temps(folder: Path) -> None:
    """Delete the temp files a killed run left behind."""
    for stale in folder.glob(".*.part"):
        stale.unlink(missing_ok=True)


def place(
    tmp: Path, ids: list[str], folder: Path, content_type: str
) -> tuple[list[Path], str, int]:
    """Validate a downloaded temp file and move it onto ``<id><suffix>`` for each id.

    Returns (files, sha256, size). Runs in a worker thread (decoding is CPU work). Files of the
    same id with another suffix (from an earlier run) are removed once the new one is in place.
    """
    data = tmp.read_bytes()
    suffix = validate(data, content_type)
    files = []
    for i, id_ in enumerate(ids):
        final = folder / f"{id_}{suffix}"
        if i < len(ids) - 1:  # a URL shared by several ids: a copy each, each atomic
            copy = temp_in(folder, id_)
            shutil.copyfile(tmp, copy)
            os.replace(copy, final)
        else:
            os.replace(tmp, final)
        for other in IMAGE_SUFFIXES - {suffix}:
            (folder / f"{id_}{other}").unlink(missing_ok=True)
        files.append(final)
    return files, content_hash(data), len(data)


def manifest_row(id_: str, file: Path, url: str, sha256: str, size: int) -> dict:
    return dict(zip(MANIFEST_COLUMNS, (id_, file.name, url, sha256, size), strict=True))


def read_manifest(path: Path) -> dict[str, dict]:
    """id → the row ``posters.csv`` recorded for it ({} if there is none or it is damaged)."""
    if not path.is_file():
        return {}
    try:
        m = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception:  # noqa: BLE001 - a damaged manifest only costs re-validation
        return {}
    return {r["id"]: r for r in m.to_dict("records") if "id" in r}


def write_manifest(path: Path, present: dict[str, dict], ids: list[str]) -> None:
    frame = pd.DataFrame([present[i] for i in ids if i in present], columns=MANIFEST_COLUMNS)
    write_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def already_fetched(
    urls: dict[str, str], folder: Path, manifest: dict[str, dict]
) -> dict[str, dict]:
    """Ids whose poster is already on disk and valid → manifest row. A file recorded for the
    same URL with the same hash is trusted; any other file is decoded first."""
    on_disk: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file():
            on_disk.setdefault(p.stem, p)

    def check(id_: str) -> dict | None:
        path, seen = on_disk[id_], manifest.get(id_)
        if seen and seen.get("url") != urls[id_]:
            return None  # the table now points elsewhere: fetch again
        try:
            data = path.read_bytes()
        except OSError:
            return None
        digest = content_hash(data)
        if not (seen and seen.get("file") == path.name and seen.get("sha256") == digest):
            try:
                validate(data)
            except FetchFailure:
                return None  # not what a fetch writes: fetch it again
        return manifest_row(id_, path, urls[id_], digest, len(data))

    todo = [i for i in urls if i in on_disk]
    with ThreadPoolExecutor(min(8, (os.cpu_count() or 1) + 2)) as pool:
        return {i: r for i, r in zip(todo, pool.map(check, todo), strict=True) if r}
