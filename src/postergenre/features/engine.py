"""Per-item work elsewhere: on a Ray cluster (``--engine ray``) or in local processes.

``RayEngine.run`` is a ``producer.Engine``: the missing jobs of a producer go out as Ray tasks
of a few batches each (the batches the local path would make, so the same ONNX graph sees
the same input), every task loads and transforms its jobs with the producer's own ``load``
and ``transform``, and the rows come back to the driver, which alone writes the cache.
``imap`` runs any function over chunks the same way (``predict`` uses it). Workers read
the items (poster files) and the cache's ONNX graphs at the driver's paths, so on several
machines those must be on a shared file system; Ray is imported only when asked for.
``ProcessEngine`` runs the same chunks in local worker processes, for a ``transform`` that
keeps one core busy (OCR), so that several run at once.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import socket
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, TypeVar

import numpy as np

from ..cache import ArrayStore
from ..errors import UserError
from .producer import Computed, Producer, computed

INSTALL_HINT = "pip install 'postergenre[ray]'"
Shared = TypeVar("Shared")
Chunk = TypeVar("Chunk")
Result = TypeVar("Result")


def ray_module():
    """The ``ray`` module, or a ``UserError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}"
                        ) from None
    return ray


class RayEngine:
    """Runs chunks of work as Ray tasks on the cluster at ``address`` (``None``: the one this
    process already joined, else ``$RAY_ADDRESS``, else a new local one on loopback),
    connected on first use, so a run that finds everything cached never starts Ray. Ray
    reserves ``cpus_per_task`` CPUs per task."""

    def __init__(self, address: str | None = None, batches_per_task: int = 8,
                 cpus_per_task: float = 1):
        self.ray = ray_module()
        self.address = address
        self.batches_per_task = batches_per_task
        self.cpus_per_task = cpus_per_task
        self._task = None

    def run(self, producer: Producer, jobs: list) -> Iterator[Computed]:
        """The producer's jobs as tasks of ``batches_per_task`` batches; the first batch runs
        alone, so one-off set-up in ``transform`` (exporting a graph into the cache) happens
        once rather than in every worker at the same time."""
        work, first, rest = _work_chunks(producer, jobs, self.batches_per_task)
        yield from self.imap(_compute_chunk, work, first)
        yield from self.imap(_compute_chunk, work, rest)

    def imap(self, fn: Callable[[Shared, Chunk], Result], shared: Shared,
             chunks: Sequence[Chunk]) -> Iterator[Result]:
        """``fn(shared, chunk)`` for each chunk as a Ray task, results in chunk order, with
        at most two tasks per cluster CPU in flight."""
        if not chunks:
            return
        ray = self.ray
        task = self._connect()
        ref = ray.put(shared)  # sent to the object store once, not with every task
        window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1) / self.cpus_per_task))
        pending: deque = deque()
        for chunk in chunks:
            pending.append(task.remote(fn, ref, chunk))
            if len(pending) >= window:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())

    def _connect(self):
        ray = self.ray
        if self._task is None:
            if not ray.is_initialized():
                joining = self.address or os.environ.get("RAY_ADDRESS")
                if joining and not _reachable(joining):  # Ray itself retries for minutes
                    raise UserError(f"cannot reach a Ray cluster at {joining}")
                local = {} if joining else {"_node_ip_address": "127.0.0.1"}
                try:
                    ray.init(address=self.address, include_dashboard=False,
                             logging_level="ERROR", log_to_driver=False, **local)
                except (ConnectionError, RuntimeError, ValueError) as e:
                    raise UserError(f"cannot start or join Ray at "
                                    f"{self.address or 'this machine'}: {e}") from None
            self._task = ray.remote(num_cpus=self.cpus_per_task)(_call)
        return self._task


class ProcessEngine:
    """Runs chunks of work in ``workers`` local processes, grouped as ``RayEngine`` groups
    them. Workers are started with ``spawn`` (a forked onnxruntime thread pool can hang) and
    ignore Ctrl-C: it stops the run here, which kills them. The producer is pickled, so its
    ``load`` and ``transform`` must be module-level functions (or partials), not closures."""

    def __init__(self, workers: int, batches_per_task: int = 4):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self.batches_per_task = batches_per_task

    def run(self, producer: Producer, jobs: list) -> Iterator[Computed]:
        """The producer's jobs as chunks of ``batches_per_task`` batches, the first batch
        alone (see ``RayEngine.run``), at most two chunks per worker in flight; results as
        they finish. A worker's exception is raised here."""
        work, first, rest = _work_chunks(producer, jobs, self.batches_per_task)
        spawn = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(self.workers, mp_context=spawn, initializer=signal.signal,
                                   initargs=(signal.SIGINT, signal.SIG_IGN))
        try:
            for chunks in (first, rest):
                yield from _unordered(pool, work, chunks, 2 * self.workers)
        except BrokenProcessPool as e:
            _stop(pool)
            raise RuntimeError(f"{producer.label}: a worker process ended abruptly (its own "
                               f"error, if it printed one, is above): {e}") from None
        except BaseException:  # an error, Ctrl-C, or the caller stopped early
            _stop(pool)
            raise
        pool.shutdown()


def _unordered(pool: ProcessPoolExecutor, work: Producer, chunks: list[list],
               window: int) -> Iterator[Computed]:
    """``_compute_chunk(work, chunk)`` for each chunk in ``pool``, at most ``window`` in
    flight, results in the order they finish."""
    todo = iter(chunks)
    pending = {pool.submit(_compute_chunk, work, c) for c in islice(todo, window)}
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        pending |= {pool.submit(_compute_chunk, work, c) for c in islice(todo, len(done))}
        for future in done:
            yield future.result()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut ``pool`` down now: queued chunks dropped, running ones killed, as nobody would
    store their rows (Python 3.14's ``terminate_workers``)."""
    processes = list((pool._processes or {}).values())  # dropped by shutdown
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


def _work_chunks(producer: Producer, jobs: list,
                 batches_per_task: int) -> tuple[Producer, list[list], list[list]]:
    """What workers get: the producer with a bare handle on its store (the driver's loaded
    index stays here), the first batch as a chunk of its own, then chunks of
    ``batches_per_task`` batches."""
    store = producer.store
    bare = ArrayStore(store.dir.parent, store.producer, store.version)
    size = producer.batch_size
    step = size * batches_per_task
    rest = [jobs[i:i + step] for i in range(size, len(jobs), step)]
    return dataclasses.replace(producer, store=bare), [jobs[:size]], rest


def _reachable(address: str, timeout: float = 5) -> bool:
    """Whether a ``HOST:PORT`` address accepts a connection (other forms: assumed so)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return True
    try:
        socket.create_connection((host, int(port)), timeout).close()
    except OSError:
        return False
    return True


def _call(fn: Callable, shared: Any, chunk: Sequence) -> Any:
    return fn(shared, chunk)


def _compute_chunk(producer: Producer, jobs: list) -> Computed:
    """``computed`` over one chunk, its batches joined into one result."""
    keys: list[str] = []
    rows: list[np.ndarray] = []
    failed: list[tuple[str, str]] = []
    for k, r, f in computed(producer, jobs):
        keys += k
        failed += f
        if r is not None:
            rows.append(r)
    return keys, (np.concatenate(rows) if rows else None), failed
