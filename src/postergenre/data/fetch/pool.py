"""Many downloads at once: overall and per-host limits, retries with backoff, and a generator
that hands each outcome to the caller as it finishes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ...progress import track
from .failures import FetchFailure
from .http import download, make_client
from .local import copy_local
from .options import FetchOptions
from .storage import place, temp_in


@dataclass
class Job:
    """One source (URL or local path) and the ids whose poster it is."""

    source: str  # the resolved URL, or a local path
    ids: list[str]
    local: bool = False


@dataclass
class Outcome:
    """How a job ended: its files, hash and size, or the failure of its last attempt."""

    job: Job
    attempts: int
    files: list[Path] = field(default_factory=list)
    sha256: str | None = None
    size: int | None = None
    failure: FetchFailure | None = None


class _HostGate:
    """At most ``per_host`` requests in flight to one host, starts at least ``delay`` apart."""

    def __init__(self, per_host: int, delay: float):
        self.slots = asyncio.Semaphore(per_host)
        self.delay, self.next_start, self.lock = delay, 0.0, asyncio.Lock()

    @contextlib.asynccontextmanager
    async def turn(self):
        async with self.slots:
            if self.delay:
                async with self.lock:
                    now = time.monotonic()
                    wait = self.next_start - now
                    self.next_start = max(now, self.next_start) + self.delay
                if wait > 0:
                    await asyncio.sleep(wait)
            yield


async def _attempt(job: Job, tmp: Path, opts: FetchOptions, client: httpx.AsyncClient) -> str:
    """One try at ``job`` into ``tmp``, within the deadline; the Content-Type ('' if local)."""
    try:
        async with asyncio.timeout(opts.deadline):
            if job.local:
                await asyncio.to_thread(copy_local, job.source, tmp, opts.max_bytes)
                return ""
            return await download(client, job.source, tmp, opts.max_bytes)
    except TimeoutError:
        detail = f"no complete answer within {opts.deadline:g} s"
        raise FetchFailure("timeout", detail, retryable=True) from None


async def _fetch_one(
    job: Job,
    folder: Path,
    opts: FetchOptions,
    client: httpx.AsyncClient,
    slots: asyncio.Semaphore,
    gate: _HostGate,
) -> Outcome:
    attempt = 0
    while True:
        attempt += 1
        tmp = None
        try:
            async with gate.turn(), slots:
                tmp = temp_in(folder, job.ids[0])
                content_type = await _attempt(job, tmp, opts, client)
            files, digest, size = await asyncio.to_thread(place, tmp, job.ids, folder, content_type)
            return Outcome(job, attempt, files, digest, size)
        except FetchFailure as f:
            if not f.retryable or attempt > opts.retries:
                return Outcome(job, attempt, failure=f)
            await asyncio.sleep(opts.retry_wait(attempt, f.retry_after))
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


async def _fetch_all(
    jobs: list[Job], folder: Path, opts: FetchOptions, emit: Callable[[Outcome], None]
) -> None:
    async with make_client(opts) as client:
        slots = asyncio.Semaphore(opts.concurrency)
        gates: dict[str, _HostGate] = {}

        async def one(job: Job) -> None:
            host = "" if job.local else (urlsplit(job.source).hostname or "")
            gate = gates.setdefault(host, _HostGate(opts.per_host, opts.delay))
            emit(await _fetch_one(job, folder, opts, client, slots, gate))

        try:
            async with asyncio.TaskGroup() as tasks:
                for job in jobs:
                    tasks.create_task(one(job))
        except BaseExceptionGroup as group:  # e.g. a full disk: report the cause, not a group
            raise group.exceptions[0] from None


def fetch_jobs(
    jobs: list[Job], folder: Path, opts: FetchOptions, progress: bool = True
) -> Iterator[Outcome]:
    """Fetch every job concurrently; yields outcomes as they finish (with a progress bar).

    The event loop runs between yields, so a caller records each outcome as it arrives. On
    Ctrl-C or an error (e.g. a full disk) every download is cancelled and its temp file removed.
    """
    if not jobs:
        return
    with asyncio.Runner() as runner:
        done: asyncio.Queue[Outcome] = asyncio.Queue()
        main = runner.get_loop().create_task(_fetch_all(jobs, folder, opts, done.put_nowait))

        async def next_outcome() -> Outcome:
            get = asyncio.ensure_future(done.get())
            await asyncio.wait({get, main}, return_when=asyncio.FIRST_COMPLETED)
            if get.done():
                return get.result()
            get.cancel()
            main.result()  # raises what stopped the downloads
            raise RuntimeError("downloads stopped before every job finished")

        async def finish() -> None:
            await main

        try:
            outcomes = (runner.run(next_outcome()) for _ in jobs)
            yield from track(outcomes, len(jobs), "fetching posters", progress)
            runner.run(finish())
        finally:
            if not main.done():
                main.cancel()
                with contextlib.suppress(BaseException):
                    runner.run(finish())
