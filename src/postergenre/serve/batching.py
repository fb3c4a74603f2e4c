"""Request batching: rows from concurrent requests share graph runs on a few worker threads.

A request submits a job (its rows, for one named graph) and awaits the job's future; the event
loop never runs a graph. Each of ``workers`` threads takes the oldest job, adds the later
queued jobs for the same graph while they fit in ``batch_size`` rows, runs them as one batch
and hands each job its rows of the output. A job larger than a batch runs alone, in chunks.
At most ``max_queue`` rows wait: ``submit`` raises ``Busy`` beyond that (an empty queue
always takes one job). A job whose request gave up (its future cancelled) is skipped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

Runner = Callable[[list[dict]], np.ndarray]  # rows -> one output row per input row


class Busy(Exception):
    """The queue is full; ``retry_after`` estimates the seconds until it has room."""

    def __init__(self, retry_after: float):
        super().__init__(f"busy, retry in {retry_after:.1f} s")
        self.retry_after = retry_after


@dataclass
class _Job:
    graph: str
    rows: list[dict]
    future: Future = field(default_factory=Future)


class Batcher:
    """Named graphs (``runners``) run on ``workers`` threads in batches of ``batch_size``."""

    def __init__(self, runners: Mapping[str, Runner], batch_size: int = 8, workers: int = 1,
                 max_queue: int = 256):
        self.runners, self.batch_size, self.max_queue = runners, batch_size, max_queue
        self._jobs: deque[_Job] = deque()
        self._queued = 0  # rows in self._jobs
        self._cond = threading.Condition()
        self._closed = False
        self._row_seconds = 0.05  # running estimate of the time per row (for Retry-After)
        self.batches = 0  # graph runs so far (tests and benchmarks read it)
        self._threads = [threading.Thread(target=self._work, name=f"inference-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, graph: str, rows: list[dict]) -> Future:
        """Queue ``rows`` for ``graph``; the future gives their outputs (one row each)."""
        if graph not in self.runners:
            raise KeyError(f"no graph {graph!r}")
        job = _Job(graph, rows)
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            if self._queued and self._queued + len(rows) > self.max_queue:
                raise Busy(self._queued * self._row_seconds / len(self._threads))
            self._jobs.append(job)
            self._queued += len(rows)
            self._cond.notify()
        return job.future

    async def run(self, graph: str, rows: list[dict]) -> np.ndarray:
        """``submit`` and await the outputs (cancelling the job if the caller gives up)."""
        return await asyncio.wrap_future(self.submit(graph, rows))

    def close(self) -> None:
        """Finish the queued jobs, then stop the threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()

    def _take(self) -> list[_Job] | None:
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if not self._jobs:
                return None
            taken: list[_Job] = []
            n = 0
            for job in list(self._jobs):
                if n >= self.batch_size:
                    break
                cancelled = job.future.cancelled()
                fits = not taken or (job.graph == taken[0].graph
                                     and n + len(job.rows) <= self.batch_size)
                if cancelled or fits:
                    self._jobs.remove(job)
                    self._queued -= len(job.rows)
                if fits and not cancelled:
                    taken.append(job)
                    n += len(job.rows)
        return [j for j in taken if j.future.set_running_or_notify_cancel()]

    def _work(self) -> None:
        while (jobs := self._take()) is not None:
            if not jobs:
                continue
            rows = [r for j in jobs for r in j.rows]
            start = time.perf_counter()
            try:
                run = self.runners[jobs[0].graph]
                out = np.concatenate([run(rows[i:i + self.batch_size])
                                      for i in range(0, len(rows), self.batch_size)])
            except Exception as e:  # noqa: BLE001 - handed to the waiting requests
                for j in jobs:
                    j.future.set_exception(e)
                continue
            self.batches += -(-len(rows) // self.batch_size)
            self._row_seconds = 0.8 * self._row_seconds + 0.2 * (
                (time.perf_counter() - start) / len(rows))
            k = 0
            for j in jobs:
                j.future.set_result(out[k:k + len(j.rows)])
                k += len(j.rows)
