"""Poster files -> backbone embeddings, computed once per image content and cached.

``embed`` looks every content hash up in an ``ArrayStore`` (producer ``emb-<backbone>``, or
``emb-<backbone>-hflip`` with test-time flipping, version = the spec's version), decodes only
the missing images (one per distinct content) in a background thread while onnxruntime runs
the previous batch, and stores the new rows as it goes, so an interrupted run resumes.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import islice
from pathlib import Path

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..cache import ArrayStore, default_cache_dir
from ..data.images import ImageError, content_hash, decode
from .backbones import BackboneSpec, resolve
from .canvas import canvas, to_batch
from .onnx_export import INPUT_NAME, backbone_onnx
from .runtime import open_session

PathLike = str | os.PathLike
FLUSH_ROWS = 2048  # rows per cache shard written during a run
MAX_SHARDS = 64  # compact the store once it holds more shard files than this


def embedding_store(
    backbone: str | BackboneSpec, cache_dir: PathLike | None = None, tta: bool = False
) -> ArrayStore:
    """The cache of one backbone's embeddings, keyed by image content hash."""
    spec = resolve(backbone)
    producer = f"emb-{spec.name}" + ("-hflip" if tta else "")
    return ArrayStore(cache_dir or default_cache_dir(), producer=producer, version=spec.version)


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
    """Embeddings of the posters at ``paths``, and the files that could not be used.

    ``hashes[i]`` is the sha256 of ``paths[i]``'s bytes (as from ``data.images.content_hash``;
    ``None`` or no list: read and hash here). Returns ``(embeddings, failures)``: float32
    ``(n_ok, feature_dim)`` rows in input order for the paths not in ``failures``, and
    ``failures`` mapping each unusable path (as given) to a short reason. ``tta`` averages
    the embeddings of the poster and its mirror image. Only contents missing from the cache
    are decoded and run through the ONNX graph.
    """
    spec = resolve(backbone)
    if hashes is not None and len(hashes) != len(paths):
        raise ValueError("paths and hashes differ in length")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    store = embedding_store(spec, root, tta)
    failures: dict[PathLike, str] = {}
    keys = _keys(paths, hashes, failures)

    todo: dict[str, list[int]] = {}  # missing content hash -> indices of its paths
    missing = set(store.missing([k for k in keys if k is not None]))
    for i, key in enumerate(keys):
        if key in missing:
            todo.setdefault(key, []).append(i)
    if todo:
        jobs = [(key, paths[idx[0]]) for key, idx in todo.items()]
        cached = sum(k is not None and k not in missing for k in keys)
        label = f"{spec.name}{' +flip' if tta else ''}: {cached} cached, embedding {len(jobs)}"

        def session():  # opened (exported first if need be) only if something decodes
            return _session(str(backbone_onnx(spec, root)), threads)

        for key, reason in _compute(session, store, jobs, batch_size, tta, progress, label):
            for i in todo[key]:
                failures[paths[i]] = reason
        if len(list(store.dir.glob("shard-*.npz"))) > MAX_SHARDS:
            store.compact()

    ok = [k for p, k in zip(paths, keys, strict=True) if p not in failures]
    if not ok:
        return np.zeros((0, spec.feature_dim), np.float32), failures
    return store.get(ok).astype(np.float32, copy=False), failures


def _keys(paths, hashes, failures) -> list[str | None]:
    """Given hashes, or the hash of each file's bytes (threads overlap the reads)."""
    given = list(hashes) if hashes is not None else [None] * len(paths)
    need = [i for i, h in enumerate(given) if h is None]

    def one(i: int) -> str | None:
        try:
            return content_hash(Path(paths[i]).read_bytes())
        except OSError as e:
            failures[paths[i]] = f"unreadable: {e.strerror or e}"
            return None

    with ThreadPoolExecutor(4) as pool:
        for i, h in zip(need, pool.map(one, need), strict=True):
            given[i] = h
    return given


def decode_job(job: tuple[str, PathLike]) -> tuple[str, np.ndarray | None, str | None]:
    """(key, canvas, None) or (key, None, reason) for a (content hash, path) job; never raises."""
    key, path = job
    try:
        data = Path(path).read_bytes()
        if content_hash(data) != key:
            return key, None, "file changed since it was hashed"
        return key, canvas(decode(data)), None
    except ImageError as e:
        return key, None, str(e)
    except OSError as e:
        return key, None, f"unreadable: {e.strerror or e}"
    except Exception as e:  # a decoder bug must cost one poster, not the whole run
        return key, None, f"cannot decode: {type(e).__name__}: {e}"


def _decoded_batches(jobs, batch_size: int, prefetch: int = 4) -> Iterator[list]:
    """Batches of ``decode_job`` results, decoded in a background thread ahead of use."""
    batches = iter([jobs[i : i + batch_size] for i in range(0, len(jobs), batch_size)])
    with ThreadPoolExecutor(1, thread_name_prefix="decode") as pool:
        pending = deque(pool.submit(_decode_all, b) for b in islice(batches, prefetch))
        while pending:
            done = pending.popleft().result()
            if (b := next(batches, None)) is not None:
                pending.append(pool.submit(_decode_all, b))
            yield done


def _decode_all(jobs) -> list:
    return [decode_job(j) for j in jobs]


def _compute(get_session, store: ArrayStore, jobs, batch_size, tta, progress, label):
    """Embed ``jobs`` into ``store``; yields (key, reason) for each image that failed."""
    session = None
    out_keys: list[str] = []
    out_rows: list[np.ndarray] = []
    with _progress(progress) as bar:
        task = bar.add_task(label, total=len(jobs))
        for batch in _decoded_batches(jobs, batch_size):
            good = [(k, c) for k, c, _ in batch if c is not None]
            for k, _, reason in batch:
                if reason is not None:
                    yield k, reason
            if good:
                x = to_batch([c for _, c in good])
                session = session or get_session()
                emb = session.run(None, {INPUT_NAME: x})[0]
                if tta:
                    flipped = np.ascontiguousarray(x[..., ::-1])
                    emb = (emb + session.run(None, {INPUT_NAME: flipped})[0]) / 2
                out_keys += [k for k, _ in good]
                out_rows.append(emb.astype(np.float32, copy=False))
            if len(out_keys) >= FLUSH_ROWS:
                store.put(out_keys, np.concatenate(out_rows))
                out_keys, out_rows = [], []
            bar.advance(task, len(batch))
        if out_keys:
            store.put(out_keys, np.concatenate(out_rows))


@lru_cache(maxsize=4)
def _session(path: str, threads: int | None):
    return open_session(path, threads)


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} posters/s" if speed else "", style="progress.data.speed")


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )
