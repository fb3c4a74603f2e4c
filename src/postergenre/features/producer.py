"""The one cached-producer helper behind every per-item input.

A producer turns items (poster files today; titles, plots and poster text later) into one
array row each. ``produce`` looks each item's content key up in the producer's
``ArrayStore`` (keyed by content hash, producer id and version), loads only the missing
items, in worker threads ahead of use, runs ``transform`` on each batch, and stores rows as it
goes, so a killed run keeps what it finished and the next run computes only the rest.
An ``Engine`` (``engine.RayEngine``) may compute the missing items elsewhere instead; their
rows come back here and are stored the same way.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

import numpy as np

from ..cache import ArrayStore
from ..data.images import ImageError, content_hash, read_file
from ..progress import track
from .canvas import decode_canvas

PathLike = str | os.PathLike
MAX_SHARDS = 64  # compact a store once it holds more shard files than this

# (content key, item) -> (key, loaded value, None) or (key, None, why it failed)
Loader = Callable[[tuple[str, Any]], tuple[str, Any, str | None]]
# (keys of the rows, the rows or None, [(key, why it failed)]) for some of the jobs
Computed = tuple[list[str], np.ndarray | None, list[tuple[str, str]]]


@dataclass(frozen=True)
class Producer:
    """How one per-item input is made and where it is kept."""

    store: ArrayStore
    load: Loader  # runs in worker threads; never raises
    transform: Callable[[list[Any]], np.ndarray]  # loaded values -> rows, one per value
    label: str  # progress bar text
    row_shape: tuple[int, ...]  # shape of one row
    dtype: str = "float32"
    batch_size: int = 8
    workers: int = 1  # loader threads
    order: Callable[[Any], Any] | None = None  # sort key of items: like items share batches
    flush_rows: int = 2048  # rows per shard written during a run


class RowSink(Protocol):
    """Where computed rows go: a producer's ``ArrayStore``, or several stores at once."""

    def put(self, keys: list[str], rows: np.ndarray) -> None: ...


class Engine(Protocol):
    """Computes a producer's missing jobs (``(key, item)`` pairs) somewhere else."""

    def run(self, producer: Producer, jobs: list) -> Iterator[Computed]:
        """``computed`` over all of ``jobs``, in any grouping and order."""
        ...


def produce(
    producer: Producer, keys: Sequence[str | None], items: Sequence[Any], progress: bool = True,
    engine: Engine | None = None, fetch: bool = True,
) -> tuple[np.ndarray | None, dict[int, str]]:
    """Rows for the items whose load succeeded, in input order (``None`` when none did, or
    with ``fetch=False``: fill the cache only), and ``{index: reason}`` for those that failed.
    A ``None`` key marks an item already known to be unusable (its reason is the caller's,
    see ``file_keys``): it gets no row. The missing items are computed here, or by
    ``engine``; either way their rows are stored here."""
    store = producer.store
    missing = set(store.missing([k for k in keys if k is not None]))
    todo: dict[str, list[int]] = {}  # missing key -> indices of its items
    for i, key in enumerate(keys):
        if key in missing:
            todo.setdefault(key, []).append(i)
    failures: dict[int, str] = {}
    if todo:
        jobs = [(key, items[idx[0]]) for key, idx in todo.items()]
        order = producer.order
        if order is not None:
            jobs.sort(key=lambda job: order(job[1]))
        cached = sum(k is not None and k not in missing for k in keys)
        label = f"{producer.label}: {cached} cached, computing {len(jobs)}"
        for key, reason in _compute(producer, jobs, label, progress, engine, store):
            for i in todo[key]:
                failures[i] = reason
        _compact(store)
    ok = [k for i, k in enumerate(keys) if k is not None and i not in failures]
    return (store.get(ok) if ok and fetch else None), failures


def _compute(producer: Producer, jobs: list, label: str, progress: bool,
             engine: Engine | None, sink: RowSink) -> Iterator:
    """Compute ``jobs`` and put their rows in ``sink``; yields (key, reason) for each item
    that failed."""
    out_keys: list[str] = []
    out_rows: list[np.ndarray] = []
    results = engine.run(producer, jobs) if engine else computed(producer, jobs)
    for keys, rows, failed in track(results, len(jobs), label, progress,
                                    size=lambda r: len(r[0]) + len(r[2])):
        yield from failed
        if keys and rows is not None:  # rows is None only when no key is
            out_keys += keys
            out_rows.append(rows)
        if len(out_keys) >= producer.flush_rows:
            sink.put(out_keys, np.concatenate(out_rows))
            out_keys, out_rows = [], []
    if out_keys:
        sink.put(out_keys, np.concatenate(out_rows))


class _Stores:
    """The stores of several producers as one: a joint row is split among them."""

    def __init__(self, producers: list[Producer]):
        self.producers = producers
        self.widths = np.cumsum([0, *(int(np.prod(p.row_shape)) for p in producers)])

    def put(self, keys: list[str], rows: np.ndarray) -> None:
        for p, a, b in zip(self.producers, self.widths[:-1], self.widths[1:], strict=True):
            p.store.put(keys, rows[:, a:b].reshape(len(rows), *p.row_shape).astype(p.dtype))


def produce_files_together(producers: list[Producer], paths: Sequence[PathLike],
                           hashes: Sequence[str | None] | None, progress: bool = True) -> None:
    """Fill several producers' stores in one pass over the files that all of them lack:
    each file is read and loaded once per loader (producers sharing one, e.g. every
    backbone's, share the decoded poster) and goes through each producer's transform. What
    fails here is left to each producer's own pass, which says why."""
    groups: dict[Loader, list[Producer]] = {}
    for p in producers:
        groups.setdefault(p.load, []).append(p)
    keys = file_keys(paths, hashes, {})
    for group in groups.values():
        if len(group) > 1:
            _together(group, keys, paths, progress)


def _together(producers: list[Producer], keys: list[str | None], paths: Sequence[PathLike],
              progress: bool) -> None:
    valid = [k for k in keys if k is not None]
    lacking = set.intersection(*(set(p.store.missing(valid)) for p in producers))
    first: dict[str, PathLike] = {}
    for key, path in zip(keys, paths, strict=True):
        if key in lacking:
            first.setdefault(key, path)
    if not first:
        return
    stores = _Stores(producers)
    joint = Producer(  # its rows go to ``stores``: each producer's part to its own store
        store=producers[0].store, load=producers[0].load,
        transform=lambda values: np.concatenate(
            [p.transform(values).reshape(len(values), -1) for p in producers], axis=1),
        label=" + ".join(p.label for p in producers),
        row_shape=(int(stores.widths[-1]),), batch_size=producers[0].batch_size)
    label = f"{joint.label}: computing {len(first)}"
    for _ in _compute(joint, list(first.items()), label, progress, None, stores):
        pass
    for p in producers:
        _compact(p.store)


def _compact(store: ArrayStore) -> None:
    if len(list(store.dir.glob("shard-*.npz"))) > MAX_SHARDS:
        store.compact()


def computed(producer: Producer, jobs: list) -> Iterator[Computed]:
    """Load (in worker threads) and transform ``jobs``, one result per batch."""
    for batch in _loaded_batches(producer, jobs):
        good = [(k, v) for k, v, _ in batch if v is not None]
        rows = producer.transform([v for _, v in good]) if good else None
        yield [k for k, _ in good], rows, [(k, why) for k, _, why in batch if why is not None]


def _loaded_batches(producer: Producer, jobs: list, prefetch: int = 4) -> Iterator[list]:
    """Batches of loader results, loaded in worker threads at most ``prefetch`` batches ahead."""
    size = producer.batch_size
    batches = iter([jobs[i : i + size] for i in range(0, len(jobs), size)])

    def load_all(batch):
        return [producer.load(job) for job in batch]

    with ThreadPoolExecutor(producer.workers, thread_name_prefix="load") as pool:
        pending = deque(pool.submit(load_all, b) for b in islice(batches, prefetch))
        while pending:
            done = pending.popleft().result()
            if (b := next(batches, None)) is not None:
                pending.append(pool.submit(load_all, b))
            yield done


def file_keys(
    paths: Sequence[PathLike], hashes: Sequence[str | None] | None, failures: dict[int, str]
) -> list[str | None]:
    """The given content hashes, or the sha256 of each file's bytes (threads overlap the
    reads); an unreadable file gets ``None`` and a reason in ``failures``."""
    if hashes is not None and len(hashes) != len(paths):
        raise ValueError("paths and hashes differ in length")
    given: list[str | None] = list(hashes) if hashes is not None else [None] * len(paths)
    need = [i for i, h in enumerate(given) if h is None]

    def one(i: int) -> str | None:
        try:
            return content_hash(read_file(paths[i]))
        except ImageError as e:
            failures[i] = str(e)
        except OSError as e:
            failures[i] = f"unreadable: {e.strerror or e}"
        return None

    with ThreadPoolExecutor(4) as pool:
        for i, h in zip(need, pool.map(one, need), strict=True):
            given[i] = h
    return given


def load_poster(job: tuple[str, PathLike]) -> tuple[str, np.ndarray | None, str | None]:
    """A ``Loader`` for poster files: (key, canvas, None) or (key, None, reason)."""
    key, path = job
    try:
        data = read_file(path)
        if content_hash(data) != key:
            return key, None, "file changed since it was hashed"
        return key, decode_canvas(data), None
    except ImageError as e:
        return key, None, str(e)
    except OSError as e:
        return key, None, f"unreadable: {e.strerror or e}"
    except Exception as e:  # noqa: BLE001 - a decoder bug must cost one poster, not the run
        return key, None, f"cannot decode: {type(e).__name__}: {e}"


def produce_files(
    producer: Producer,
    paths: Sequence[PathLike],
    hashes: Sequence[str | None] | None,
    progress: bool = True,
    engine: Engine | None = None,
    fetch: bool = True,
) -> tuple[np.ndarray, dict[PathLike, str]]:
    """``produce`` over files: ``(rows, {path: reason})`` with rows for the paths not in the
    failures, in input order (an empty ``(0, *row_shape)`` array when none succeeded, or
    with ``fetch=False``). An ``engine``'s workers get absolute paths: their working folder
    may be another."""
    failures: dict[int, str] = {}
    keys = file_keys(paths, hashes, failures)
    items = [os.path.abspath(p) for p in paths] if engine else paths
    rows, failed = produce(producer, keys, items, progress, engine, fetch)
    failures.update(failed)
    if rows is None:
        rows = np.zeros((0, *producer.row_shape), producer.dtype)
    return rows, {paths[i]: why for i, why in sorted(failures.items())}

