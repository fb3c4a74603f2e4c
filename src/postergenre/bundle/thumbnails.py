"""Small poster thumbnails of the comparable-films catalogue, stored beside its index.

    similar/thumbnails.safetensors   data (B,) uint8: WebP files end to end; offsets (N + 1,)
                                     int64: film i's is data[offsets[i]:offsets[i + 1]]
                                     (empty where its poster did not decode)

Written after the index (``add_thumbnails``), one per film in the index's order, registered in
``bundle.json`` like the index's files (so loading verifies them) and described in
``similar.thumbnails``: 60 x 90 at most, WebP quality 60 (its cost in bundle size is in
docs/design.md).
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save

from ..atomic import write_bytes, write_json
from ..data.images import ImageError, load
from ..errors import UserError
from ..features.runtime import cpu_count
from ..progress import track
from .format import META_FILE
from .io import Bundle, _sha256

FILE = "similar/thumbnails.safetensors"
SIZE = (60, 90)  # width, height: a thumbnail fits within, its aspect kept
QUALITY = 60
MEDIA_TYPE = "image/webp"


def thumbnail(path: str | Path) -> bytes:
    """The poster at ``path`` as a small WebP file; empty if it cannot be read."""
    try:
        im = load(path, at_least=SIZE)
    except ImageError:
        return b""
    im.thumbnail(SIZE, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="WEBP", quality=QUALITY, method=4)
    return buf.getvalue()


def add_thumbnails(bundle_dir: Path, paths: list, progress: bool = True) -> dict:
    """Write the thumbnails of the index's films (``paths``: their posters, in its order) into
    the bundle at ``bundle_dir``; returns their ``similar.thumbnails`` entry."""
    bundle_dir = Path(bundle_dir)
    with ThreadPoolExecutor(cpu_count()) as pool:
        files = list(track(pool.map(thumbnail, paths), len(paths), "thumbnails", progress))
    offsets = np.cumsum([0, *map(len, files)], dtype=np.int64)
    data = np.frombuffer(b"".join(files) or b"\0", np.uint8)  # safetensors: no empty tensor
    write_bytes(bundle_dir / FILE, save({"data": data, "offsets": offsets}))
    doc = json.loads((bundle_dir / META_FILE).read_text(encoding="utf-8"))
    size = (bundle_dir / FILE).stat().st_size
    doc["files"][FILE] = {"sha256": _sha256(bundle_dir / FILE), "bytes": size}
    entry = {"file": FILE, "format": "webp", "size": list(SIZE),
             "films": sum(1 for f in files if f), "bytes": size}
    doc["similar"]["thumbnails"] = entry
    write_json(bundle_dir / META_FILE, doc)
    return entry


@dataclass
class Thumbnails:
    """A bundle's thumbnails, by film id."""

    data: np.ndarray
    offsets: np.ndarray
    position: dict[str, int]  # film id -> its row in the index

    @classmethod
    def of(cls, bundle: Bundle, ids: list[str]) -> Thumbnails | None:
        """The thumbnails of the bundle's index (its films ``ids``), or None if it has none."""
        entry = (bundle.meta.get("similar") or {}).get("thumbnails")
        if not isinstance(entry, dict) or entry.get("file") not in bundle.meta["files"]:
            return None
        arrays = load_file(str(bundle.path / entry["file"]))
        offsets = arrays["offsets"]
        if len(offsets) != len(ids) + 1 or np.any(np.diff(offsets) < 0) or offsets[-1] > len(
                arrays["data"]):
            raise UserError(f"{bundle.path}: its thumbnails do not match its similar-films index")
        return cls(arrays["data"], offsets, {film: i for i, film in enumerate(ids)})

    def get(self, film: str) -> bytes | None:
        """The film's thumbnail (WebP bytes), or None."""
        i = self.position.get(film)
        if i is None or self.offsets[i] == self.offsets[i + 1]:
            return None
        return self.data[self.offsets[i]:self.offsets[i + 1]].tobytes()
