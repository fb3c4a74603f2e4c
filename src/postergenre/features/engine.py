"""Per-item work on a Ray cluster: ``--engine ray``.

``RayEngine.run`` is a ``producer.Engine``: the missing jobs of a producer go out as Ray tasks
of a few batches each (the batches the local path would make, so the same ONNX graph sees
the same input), every task loads and transforms its jobs with the producer's own ``load``
and ``transform``, and the rows come back to the driver, which alone writes the cache.
``imap`` runs any function over chunks the same way (``predict`` uses it). Workers read
the items (poster files) and the cache's ONNX graphs at the driver's paths, so on several
machines those must be on a shared file system; Ray is imported only when asked for.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..cache import ArrayStore
from ..errors import UserError
from .producer import Computed, Producer, computed

INSTALL_HINT = "pip install 'postergenre[ray]'"


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
        size = producer.batch_size
        step = size * self.batches_per_task
        # workers get a bare handle on the store: the driver's loaded index stays here
        store = producer.store
        bare = ArrayStore(store.dir.parent, store.producer, store.version)
        work = dataclasses.replace(producer, store=bare)
        yield from self.imap(_compute_chunk, work, [jobs[:size]])
        yield from self.imap(_compute_chunk, work,
                             [jobs[i:i + step] for i in range(size, len(jobs), step)])

    def imap(self, fn: Callable[[Any, Sequence], Any], shared: Any,
             chunks: Sequence[Sequence]) -> Iterator:
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
