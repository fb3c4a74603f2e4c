"""The text printed on a poster, read by RapidOCR and cached per poster content.

``ocr_text`` reads one image with a process-wide RapidOCR engine (the detector and recogniser
ONNX models shipped in the ``rapidocr`` package) at fixed settings: no angle classifier, one
onnxruntime thread, and the detector's short side at 272 pixels: rapidocr's default 736
upscales a 182-pixel-wide poster fourfold at more cost for no more text. Lines are
joined by spaces in rapidocr's reading order and ``clean``ed. ``poster_texts`` reads each
poster's canvas and caches its text (producer ``ocr-text``) as UTF-8 in rows of
``MAX_BYTES`` bytes; only contents missing from the cache are read, in worker processes
(``engine.ProcessEngine``) when there are several CPUs and more than a batch to read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from ..cache import ArrayStore, default_cache_dir
from .canvas import CANVAS_REVISION
from .engine import ProcessEngine
from .producer import Producer, file_keys, load_poster, produce_files
from .runtime import cpu_count
from .text import clean

PathLike = str | os.PathLike
OCR_REVISION = 1  # bump when the text stored for the same poster changes
MAX_BYTES = 512  # UTF-8 bytes kept of a poster's text
PARAMS = {
    "Global.log_level": "critical",  # rapidocr logs INFO lines to stderr otherwise
    "Global.use_cls": False,
    "Det.limit_side_len": 272,
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}


@lru_cache(maxsize=1)
def _engine():
    from rapidocr import RapidOCR

    return RapidOCR(params=dict(PARAMS))


def ocr_text(image: np.ndarray) -> str:
    """The text printed on an RGB uint8 ``(H, W, 3)`` image, its lines joined by spaces in
    reading order and ``clean``ed; ``""`` if none."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, not {image.dtype} "
                         f"{image.shape}")
    bgr = np.ascontiguousarray(image[..., ::-1])  # rapidocr takes arrays as OpenCV's BGR
    return clean(" ".join(_engine()(bgr).txts or ()))


def ocr_version() -> str:
    """``OCR_REVISION`` and a digest of rapidocr's version, ``PARAMS`` and the canvas."""
    settings = json.dumps({"rapidocr": metadata.version("rapidocr"), "params": PARAMS,
                           "canvas": CANVAS_REVISION}, sort_keys=True)
    return f"{OCR_REVISION}-{hashlib.sha256(settings.encode()).hexdigest()[:10]}"


def to_row(text: str) -> np.ndarray:
    """``text`` as UTF-8 in ``MAX_BYTES`` uint8, zero-padded, cut at a character boundary."""
    data = text.encode("utf-8", "replace")[:MAX_BYTES].decode("utf-8", "ignore").encode()
    return np.frombuffer(data.ljust(MAX_BYTES, b"\0"), np.uint8).copy()


def from_row(row: np.ndarray) -> str:
    return row.tobytes().rstrip(b"\0").decode()


def ocr_rows(images: list[np.ndarray]) -> np.ndarray:
    """A ``Producer`` transform: canvases -> ``(n, MAX_BYTES)`` rows of their text."""
    return np.stack([to_row(ocr_text(image)) for image in images])


def ocr_producer(cache_dir: PathLike | None = None) -> Producer:
    """Poster file -> canvas -> OCR text row, stored under ``ocr-text``; picklable, so it
    runs in worker processes."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return Producer(
        store=ArrayStore(root, producer="ocr-text", version=ocr_version()),
        load=load_poster,
        transform=ocr_rows,
        label="poster text (OCR)",
        row_shape=(MAX_BYTES,),
        dtype="uint8",
        batch_size=4,
        flush_rows=256,  # about a minute of reading: a killed run keeps nearly all of it
    )


def poster_texts(
    paths: Sequence[PathLike],
    hashes: Sequence[str | None] | None = None,
    cache_dir: PathLike | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> tuple[list[str], dict[PathLike, str]]:
    """The OCR text of each poster at ``paths`` in input order (``""`` for a file that
    failed) and ``{path: reason}`` for those. ``hashes`` as in ``embeddings.embed``. Only
    contents missing from the cache are read, by ``workers`` processes (default: every
    available CPU) when they make more than one batch, else in this process."""
    workers = cpu_count() if workers is None else workers
    producer = ocr_producer(cache_dir)
    keys = file_keys(paths, hashes, {})  # an unreadable file (None) is hashed again, and fails
    todo = producer.store.missing([k for k in keys if k is not None])
    # a single batch would run in one worker, which has to start first: slower than here
    use_pool = workers > 1 and len(todo) > producer.batch_size
    engine = ProcessEngine(workers) if use_pool else None
    rows, failures = produce_files(producer, paths, keys, progress, engine)
    texts = iter(rows)
    return ["" if path in failures else from_row(next(texts)) for path in paths], failures
