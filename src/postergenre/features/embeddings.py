"""Backbone embeddings of poster files, computed once per image content and cached.

The store's producer is ``emb-<backbone>`` (``emb-<backbone>-hflip`` with test-time
flipping) at the backbone spec's version; an int8 backbone's is ``emb-<backbone>-int8`` at
that version plus its calibration digest (``quantize``), so precisions never share rows. The
backbone's ONNX graph runs on batches of canvases while a worker thread decodes the next ones
(``producer.produce``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from onnxruntime import InferenceSession

from ..cache import ArrayStore, default_cache_dir
from .backbones import BackboneSpec, resolve
from .canvas import to_batch
from .onnx_export import INPUT_NAME, backbone_onnx
from .producer import Producer, load_poster, produce_files
from .quantize import Calibration, int8_onnx
from .runtime import open_session

PathLike = str | os.PathLike


def embedding_store(
    backbone: str | BackboneSpec, cache_dir: PathLike | None = None, tta: bool = False,
    calibration: Calibration | None = None,
) -> ArrayStore:
    """The cache of one backbone's embeddings (int8 with a ``calibration``), keyed by image
    content hash."""
    spec = resolve(backbone)
    producer = f"emb-{spec.name}" + ("-hflip" if tta else "") + ("-int8" if calibration else "")
    version = spec.version + (f"-{calibration.digest}" if calibration else "")
    return ArrayStore(cache_dir or default_cache_dir(), producer=producer, version=version)


def backbone_graph(backbone: str | BackboneSpec, cache_dir: PathLike | None = None,
                   calibration: Calibration | None = None) -> Path:
    """The backbone's ONNX graph: fp32, or int8 quantised on ``calibration``."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return int8_onnx(backbone, calibration, root) if calibration else backbone_onnx(backbone, root)


def embedding_producer(
    backbone: str | BackboneSpec,
    cache_dir: PathLike | None = None,
    *,
    tta: bool = False,
    calibration: Calibration | None = None,
    batch_size: int = 8,
    threads: int | None = None,
) -> Producer:
    """Poster file -> canvas -> the backbone's ONNX graph (exported, or quantised on
    ``calibration``, on first use) -> row. ``tta`` averages the embeddings of the poster and
    its mirror image."""
    spec = resolve(backbone)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    # opened (the graph exported first if need be) only once a poster decodes
    sessions: list[InferenceSession] = []

    def transform(canvases: list[np.ndarray]) -> np.ndarray:
        if not sessions:
            sessions.append(_session(str(backbone_graph(spec, root, calibration)), threads))
        session = sessions[0]
        x = to_batch(canvases)
        emb = session.run(None, {INPUT_NAME: x})[0]
        if tta:
            flipped = np.ascontiguousarray(x[..., ::-1])
            emb = (emb + session.run(None, {INPUT_NAME: flipped})[0]) / 2
        return emb.astype(np.float32, copy=False)

    return Producer(
        store=embedding_store(spec, root, tta, calibration),
        load=load_poster,
        transform=transform,
        label=f"{spec.name}{' +flip' if tta else ''}{' int8' if calibration else ''}",
        row_shape=(spec.embedding_dim,),
        batch_size=batch_size,
    )


def embed(
    paths: Sequence[PathLike],
    hashes: Sequence[str | None] | None = None,
    backbone: str | BackboneSpec = "efficientnet_lite0",
    cache_dir: PathLike | None = None,
    *,
    batch_size: int = 8,
    tta: bool = False,
    progress: bool = True,
    threads: int | None = None,
) -> tuple[np.ndarray, dict[PathLike, str]]:
    """Embeddings of the posters at ``paths`` and the files that could not be used.

    ``hashes[i]`` is the sha256 of ``paths[i]``'s bytes (``None``: hashed here). Returns
    float32 ``(n_ok, feature_dim)`` rows in input order for the paths not in the failures,
    and ``{path: reason}``. Only contents missing from the cache are decoded and embedded.
    """
    producer = embedding_producer(backbone, cache_dir, tta=tta, batch_size=batch_size,
                                  threads=threads)
    rows, failures = produce_files(producer, paths, hashes, progress)
    return rows.astype(np.float32, copy=False), failures


@lru_cache(maxsize=4)
def _session(path: str, threads: int | None) -> InferenceSession:
    return open_session(path, threads)
