"""What the routes use: the loaded model, its comparable films, the decode pool, the batcher.

``Service`` is built once per app (``create_app``) and reached from a route through the
``service`` dependency. Uploads are decoded in its thread pool and every graph run goes
through its ``Batcher``, so the event loop only parses and answers.
"""

from __future__ import annotations

import asyncio
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from fastapi import Request, UploadFile

from ..bundle import Bundle
from ..bundle.format import GRAPH
from ..bundle.records import feeds
from ..bundle.similar import SimilarIndex
from ..bundle.thumbnails import Thumbnails
from ..features.runtime import cpu_count
from . import uploads
from .batching import Batcher, Busy
from .limits import MB, ApiError, Limits

REPORT = "report.html"  # what ``postergenre report RUN`` writes into the run folder
MAX_REPORT_BYTES = 64 * MB


class Service:
    """The loaded model, its index and thumbnails, the decode pool and the batcher."""

    def __init__(self, bundle: Bundle, limits: Limits, index: SimilarIndex | None,
                 report: Path | None = None):
        self.bundle, self.limits, self.index = bundle, limits, index
        self.thumbnails = None if index is None else Thumbnails.of(bundle, index.films["ids"])
        self.report_given = report
        graph_file = bundle.meta["graphs"][GRAPH]["file"]
        about = bundle.meta.get("model", {})
        self.name = str(about.get("type") or about.get("name") or "model")
        self.model_id = f"{self.name}@{bundle.meta['files'][graph_file]['sha256'][:12]}"
        self.decoder = ThreadPoolExecutor(cpu_count(), thread_name_prefix="decode")
        runners = {"model": self._run_model}
        if index is not None:
            runners["embed"] = lambda rows: index.embed([r["poster"] for r in rows])
        self.batcher = Batcher(runners, limits.batch_size, limits.workers, limits.max_queue)

    def _run_model(self, rows: list[dict]) -> np.ndarray:
        return self.bundle.run(feeds(rows))

    async def in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.decoder, partial(fn, *args))

    async def posters(self, files: list[UploadFile], fields: dict) -> list[uploads.Poster]:
        """Read every upload, then decode and prepare them in the pool (first error wins)."""
        names = [uploads.file_name(f, i) for i, f in enumerate(files)]
        data = [await uploads.read(f, n, self.limits) for f, n in zip(files, names, strict=True)]
        inputs = self.bundle.inputs
        return list(await asyncio.gather(*(
            self.in_pool(uploads.poster, n, d, fields, inputs, self.limits)
            for n, d in zip(names, data, strict=True))))

    async def run(self, graph: str, rows: list[dict]) -> np.ndarray:
        try:
            return await self.batcher.run(graph, rows)
        except Busy as e:
            raise ApiError(503, "busy: the inference queue is full, try again shortly",
                           retry_after=e.retry_after) from None

    @property
    def report_path(self) -> Path:
        """The report served: the one given, else the one in the bundle's run folder."""
        return self.report_given or Path(self.bundle.path).parent / REPORT

    def has_report(self) -> bool:
        path = self.report_path
        return path.is_file() and (self.report_given is not None or not path.is_symlink())

    def read_report(self) -> str:
        """The report's text (bytes that are not UTF-8 shown as U+FFFD). The one in the run
        folder is opened without following a link; ``ApiError`` 404 if there is none."""
        path = self.report_path
        flags = os.O_RDONLY | os.O_NONBLOCK | (os.O_NOFOLLOW if self.report_given is None else 0)
        try:
            fd = os.open(path, flags)
        except OSError:
            raise self._no_report() from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:
                raise self._no_report()
            return f.read(MAX_REPORT_BYTES).decode("utf-8", errors="replace")

    def _no_report(self) -> ApiError:
        if self.report_given is not None:
            return ApiError(404, f"the report given ({self.report_given.name}) is gone or is "
                                 "not a readable file")
        run = Path(self.bundle.path).parent
        return ApiError(404, f"no report for this model's run; make it with `postergenre "
                             f"report {run}`, or give one with `serve --report`")

    def close(self) -> None:
        self.batcher.close()
        self.decoder.shutdown(cancel_futures=True)


def service(request: Request) -> Service:
    """The app's ``Service`` (a FastAPI dependency)."""
    return request.app.state.service
