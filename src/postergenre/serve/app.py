"""The web app: the JSON API over one loaded bundle, and the page that uses it.

``create_app(bundle)`` builds a FastAPI app; the bundle is loaded once by the caller. Uploads
are decoded in a thread pool and every graph run goes through the ``Batcher``, so the event
loop only parses and answers. Routes raise ``ApiError``; the handlers here turn it, FastAPI's
validation errors and anything unexpected into ``{"status", "error", ...}`` JSON (a 500
says no more than "internal error").
"""

import asyncio
import base64
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import numpy as np
from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from ..bundle import Bundle
from ..bundle.format import GRAPH
from ..bundle.records import feeds, ranked
from ..bundle.similar import SimilarIndex
from ..features.runtime import cpu_count
from ..training.record import Headline
from . import explain, uploads
from .batching import Batcher, Busy
from .details import details_dependency
from .limits import ApiError, Guard, Limits
from .schemas import (
    ErrorBody,
    ExplainResponse,
    Health,
    ModelInfo,
    PredictResponse,
    SimilarResponse,
)

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("postergenre.serve")
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody}
                                            for code in (413, 415, 422, 503)}


class Service:
    """The loaded model, its index, the decode pool and the batcher: what routes use."""

    def __init__(self, bundle: Bundle, limits: Limits, index: SimilarIndex | None):
        self.bundle, self.limits, self.index = bundle, limits, index
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
        limits = self.limits
        if len(files) > limits.max_files:
            raise ApiError(413, f"{len(files)} files: at most {limits.max_files} per request",
                           field="files")
        names = [uploads.file_name(f, i) for i, f in enumerate(files)]
        data = [await uploads.read(f, n, limits) for f, n in zip(files, names, strict=True)]
        inputs = self.bundle.inputs
        return list(await asyncio.gather(*(
            self.in_pool(uploads.poster, n, d, fields, inputs, limits)
            for n, d in zip(names, data, strict=True))))

    async def run(self, graph: str, rows: list[dict]) -> np.ndarray:
        try:
            return await self.batcher.run(graph, rows)
        except Busy as e:
            raise ApiError(503, "busy: the inference queue is full, try again shortly",
                           retry_after=e.retry_after) from None

    def close(self) -> None:
        self.batcher.close()
        self.decoder.shutdown(cancel_futures=True)


def create_app(bundle: Bundle, limits: Limits | None = None,
               index: SimilarIndex | None = None) -> FastAPI:
    """The app for one loaded bundle (and its comparable-films index, if it has one)."""
    limits = (limits or Limits()).check()
    service = Service(bundle, limits, index)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.close()

    app = FastAPI(title="postergenre", version=__version__, lifespan=lifespan,
                  description="Genres of movie posters: predict, explain, find comparable "
                              "films. Every error is JSON: `{status, error, file?, field?}`.")
    app.state.service = service
    _handlers(app)
    _routes(app, service)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, limits=limits)
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, e: ApiError):
        return JSONResponse(e.body(), e.status, headers=e.headers())

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query")]
        field = loc[0] if loc else None
        message = f"{'.'.join(loc)}: {first.get('msg')}" if loc else str(first.get("msg"))
        return JSONResponse(ApiError(422, message, field=field).body(), 422)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, e: HTTPException):
        return JSONResponse({"status": e.status_code, "error": str(e.detail)}, e.status_code,
                            headers=e.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception):
        log.error("%s %s failed: %s: %s", request.method, request.url.path,
                  type(e).__name__, e)
        return JSONResponse({"status": 500, "error": "internal error"}, 500)


def _routes(app: FastAPI, service: Service) -> None:
    bundle, limits = service.bundle, service.limits
    genres = bundle.genres
    headline = Headline.of_bundle(bundle.meta, Path(bundle.path) / "bundle.json")
    metrics = {} if headline is None else headline.to_json()
    Details = Annotated[dict, Depends(details_dependency(limits.max_text))]
    if TYPE_CHECKING:  # a str, statically; FastAPI checks it is one of the model's genres
        Genre: TypeAlias = str
    else:
        Genre = Literal[tuple(genres)]
    Image = Annotated[UploadFile, File(description="A poster: JPEG, PNG, WebP, GIF, BMP or TIFF.")]

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/report", include_in_schema=False)
    async def report() -> HTMLResponse:
        """The report of the bundle's run (``postergenre report RUN`` writes it there)."""
        path = Path(bundle.path).parent / "report.html"
        if not path.is_file():
            raise ApiError(404, "no report for this model's run yet; make it with "
                                f"`postergenre report {Path(bundle.path).parent}`")
        return HTMLResponse(path.read_text(encoding="utf-8"))

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> dict:
        return {"status": "ok", "model": service.model_id}

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"])
    async def model() -> dict:
        """The genres, decision thresholds, metrics and inputs of the loaded model."""
        similar = None
        if service.index is not None:
            entry = bundle.meta["similar"]
            similar = {"films": len(service.index), "dims": entry["dims"],
                       "bytes": entry.get("bytes", 0)}
        return {"id": service.model_id, "name": service.name, "genres": genres,
                "thresholds": dict(zip(genres, map(float, bundle.thresholds), strict=True)),
                "max_genres": bundle.rule.max_genres, "at_least_one": bundle.rule.at_least_one,
                "inputs": [{k: i[k] for k in ("name", "type", "required")}
                           for i in bundle.inputs],
                "metrics": metrics, "similar": similar,
                "limits": {k: v for k, v in asdict(limits).items()
                           if k.startswith("max_") or k == "timeout_s"}}

    @app.post("/v1/predict", response_model=PredictResponse, responses=ERRORS, tags=["model"])
    async def predict(files: Annotated[list[UploadFile], File(
                          description=f"One or more posters (at most {limits.max_files}).")],
                      details: Details) -> dict:
        """Genres of each poster: every genre ranked with its probability, the decided set
        and the inputs used. The film's details apply to every poster of the request."""
        posters = await service.posters(files, details)
        raw = await service.run("model", [p.prepared.rows for p in posters])
        probs, decided = bundle.answer(raw, [p.prepared.used for p in posters])
        out = []
        for p, row, dec in zip(posters, probs, decided, strict=True):
            answer = ranked(genres, row, dec)
            rule = bundle.rules.for_inputs(p.prepared.used)
            cut = dict(zip(genres, map(float, rule.rule.thresholds), strict=True))
            out.append({"file": p.file,
                        "genres": [{"genre": g, "probability": round(prob, 4), "decided": d,
                                    "threshold": round(cut[g], 4)} for g, prob, d in answer],
                        "decided": [g for g, _, d in answer if d],
                        "inputs": {"used": p.prepared.used, "ignored": p.prepared.ignored,
                                   "rule": list(rule.inputs)}})
        return {"model": service.model_id, "posters": out}

    @app.post("/v1/explain", response_model=ExplainResponse, responses=ERRORS, tags=["model"])
    async def explain_(file: Image, details: Details,
                       genre: Annotated[Genre, Form(description="One of the model's genres.")],
                       rows: Annotated[int, Form(ge=2, le=24, description="Grid rows.")] = 8,
                       cols: Annotated[int, Form(ge=2, le=16, description="Grid columns.")] = 6
                       ) -> dict:
        """Which regions of the poster raise the genre's probability (occlusion: each grid
        cell hidden in turn, all copies run as one batched job)."""
        if "poster" not in [i["name"] for i in bundle.inputs]:
            raise ApiError(422, "this model does not read the poster: nothing to explain",
                           field="file")
        if rows * cols > limits.max_cells:
            raise ApiError(422, f"{rows}x{cols} cells: at most {limits.max_cells}",
                           field="rows")
        [poster] = await service.posters([file], details)
        prepared = poster.prepared.rows
        canvas = prepared["poster"]
        copies = explain.occluded(canvas, rows, cols)
        raw = await service.run("model", [prepared] + [{**prepared, "poster": c}
                                                       for c in copies])
        probs, _ = bundle.answer(raw, [poster.prepared.used] * len(raw))
        g = genres.index(genre)
        grid = explain.sensitivity(probs[0, g], probs[1:, g], rows, cols)
        png = await service.in_pool(explain.overlay, canvas, grid)
        return {"model": service.model_id, "file": poster.file, "genre": genre,
                "probability": round(float(probs[0, g]), 4), "rows": rows, "cols": cols,
                "grid": np.round(grid, 4).tolist(),
                "overlay": "data:image/png;base64," + base64.b64encode(png).decode()}

    @app.post("/v1/similar", response_model=SimilarResponse,
              responses={404: {"model": ErrorBody}, **ERRORS}, tags=["model"])
    async def similar(file: Image, k: Annotated[int, Form(
                          ge=1, le=limits.max_k, description="How many films.")] = 8) -> dict:
        """The training-catalogue films whose posters are nearest to this one."""
        if service.index is None:
            raise ApiError(404, "this model has no comparable-films index (build one with "
                                "`postergenre index RUN`)")
        name = uploads.file_name(file, 0)
        data = await uploads.read(file, name, limits)
        canvas = await service.in_pool(uploads.canvas, name, data, limits)
        vector = (await service.run("embed", [{"poster": canvas}]))[0]
        return {"model": service.model_id, "file": name,
                "films": service.index.nearest(vector, k)}
