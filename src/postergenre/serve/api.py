"""The JSON API (``/v1/...``, ``/healthz``): a router over the app's ``Service``.

The router is made for one bundle and its limits, so the OpenAPI document states exactly what
the server takes: the model's genres, one to ``max_files`` non-empty poster files, each
detail field within its range. Routes raise ``ApiError`` (``app`` turns it into JSON).
"""


import base64
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import numpy as np
from fastapi import APIRouter, Depends, File, Form, Response, UploadFile

from ..bundle.records import ranked
from ..bundle.thumbnails import MEDIA_TYPE
from ..training.record import Headline
from . import explain, uploads
from .details import describe, details_dependency
from .limits import MB, ApiError, Limits
from .schemas import (
    ErrorBody,
    ExplainResponse,
    Health,
    ModelInfo,
    PredictResponse,
    SimilarResponse,
)
from .service import Service, service

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody}
                                            for code in (400, 408, 413, 415, 422, 503)}
IMAGE_TYPES = "image/jpeg, image/png, image/webp, image/gif, image/bmp, image/tiff"
MAX_ROWS, MAX_COLS = 16, 12  # an explanation's grid: at most 192 occlusion cells


def _poster_schema(limits: Limits) -> dict:
    """One poster file in the OpenAPI document: bytes, at least one."""
    return {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream",
            "minLength": 1, "description": f"A poster: JPEG, PNG, WebP, GIF, BMP or TIFF, at "
                                          f"most {limits.max_file_bytes / MB:.3g} MB."}


def _posters_encoding(*fields: str) -> dict:
    """The request body's ``encoding``: the media types its file fields take."""
    encoding = {name: {"contentType": IMAGE_TYPES} for name in fields}
    return {"requestBody": {"content": {"multipart/form-data": {"encoding": encoding}}}}


def api(genres: list[str], limits: Limits) -> APIRouter:
    """The API's routes for a model of these ``genres`` under these ``limits``."""
    router = APIRouter()
    Svc = Annotated[Service, Depends(service)]
    Details = Annotated[dict, Depends(details_dependency(limits.max_text))]
    if TYPE_CHECKING:  # a str, statically; FastAPI checks it is one of the model's genres
        Genre: TypeAlias = str
    else:
        Genre = Literal[tuple(genres)]
    poster = _poster_schema(limits)
    Image = Annotated[UploadFile, File(description=poster["description"],
                                       json_schema_extra=poster)]
    Images = Annotated[list[UploadFile], File(
        min_length=1, max_length=limits.max_files, json_schema_extra={"items": poster},
        description=f"One to {limits.max_files} posters.")]

    @router.get("/healthz", response_model=Health, tags=["service"])
    async def healthz(svc: Svc) -> dict:
        return {"status": "ok", "model": svc.model_id}

    @router.get("/v1/model", response_model=ModelInfo, tags=["model"])
    async def model(svc: Svc) -> dict:
        """The genres, decision thresholds, metrics and inputs of the loaded model, the detail
        fields a request may send, and the report's address (null when there is none)."""
        bundle = svc.bundle
        similar = None
        if svc.index is not None:
            entry = bundle.meta["similar"]
            similar = {"films": len(svc.index), "dims": entry["dims"],
                       "bytes": entry.get("bytes", 0), "thumbnails": svc.thumbnails is not None}
        headline = Headline.of_bundle(bundle.meta, Path(bundle.path) / "bundle.json")
        return {"id": svc.model_id, "name": svc.name, "genres": genres,
                "thresholds": dict(zip(genres, map(float, bundle.thresholds), strict=True)),
                "max_genres": bundle.rule.max_genres, "at_least_one": bundle.rule.at_least_one,
                "inputs": [{k: i[k] for k in ("name", "type", "required")}
                           for i in bundle.inputs],
                "fields": describe(limits.max_text),
                "metrics": {} if headline is None else headline.to_json(), "similar": similar,
                "report": "/report" if svc.has_report() else None,
                "limits": {k: v for k, v in asdict(limits).items()
                           if k.startswith("max_") or k.endswith("timeout_s")}}

    @router.post("/v1/predict", response_model=PredictResponse, responses=ERRORS,
                 tags=["model"], openapi_extra=_posters_encoding("files"))
    async def predict(svc: Svc, files: Images, details: Details) -> dict:
        """Genres of each poster: every genre ranked with its probability and threshold, the
        decided set and the inputs used. The details are one film's: they apply to every
        poster of the request (its variants)."""
        bundle = svc.bundle
        posters = await svc.posters(files, details)
        raw = await svc.run("model", [p.prepared.rows for p in posters])
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
        return {"model": svc.model_id, "posters": out}

    @router.post("/v1/explain", response_model=ExplainResponse, responses=ERRORS,
                 tags=["model"], openapi_extra=_posters_encoding("file"))
    async def explain_(svc: Svc, file: Image, details: Details,
                       genre: Annotated[Genre, Form(description="One of the model's genres.")],
                       rows: Annotated[int, Form(ge=2, le=MAX_ROWS,
                                                 description="Grid rows.")] = 8,
                       cols: Annotated[int, Form(ge=2, le=MAX_COLS,
                                                 description="Grid columns.")] = 6) -> dict:
        """Which regions of the poster raise the genre's probability (occlusion: each grid
        cell hidden in turn, all copies run as one batched job)."""
        bundle = svc.bundle
        if "poster" not in [i["name"] for i in bundle.inputs]:
            raise ApiError(422, "this model does not read the poster: nothing to explain",
                           field="file")
        [poster] = await svc.posters([file], details)
        prepared = poster.prepared.rows
        canvas = prepared["poster"]
        copies = explain.occluded(canvas, rows, cols)
        raw = await svc.run("model", [prepared] + [{**prepared, "poster": c} for c in copies])
        probs, _ = bundle.answer(raw, [poster.prepared.used] * len(raw))
        g = genres.index(genre)
        grid = explain.sensitivity(probs[0, g], probs[1:, g], rows, cols)
        png = await svc.in_pool(explain.overlay, canvas, grid)
        return {"model": svc.model_id, "file": poster.file, "genre": genre,
                "probability": round(float(probs[0, g]), 4), "rows": rows, "cols": cols,
                "grid": np.round(grid, 4).tolist(),
                "overlay": "data:image/png;base64," + base64.b64encode(png).decode()}

    @router.post("/v1/similar", response_model=SimilarResponse,
                 responses={404: {"model": ErrorBody}, **ERRORS}, tags=["model"],
                 openapi_extra=_posters_encoding("file"))
    async def similar(svc: Svc, file: Image, k: Annotated[int, Form(
                          ge=1, le=limits.max_k, description="How many films.")] = 8) -> dict:
        """The training-catalogue films whose posters are nearest to this one, each with the
        address of its poster's thumbnail (null when the index has none)."""
        if svc.index is None:
            raise ApiError(404, "this model has no comparable-films index (build one with "
                                "`postergenre index RUN`)")
        name = uploads.file_name(file, 0)
        data = await uploads.read(file, name, limits)
        canvas = await svc.in_pool(uploads.canvas, name, data, limits)
        vector = (await svc.run("embed", [{"poster": canvas}]))[0]
        films = svc.index.nearest(vector, k)
        thumbs = svc.thumbnails
        for f in films:
            has = thumbs is not None and thumbs.get(f["id"]) is not None
            f["thumbnail"] = f"/v1/films/{f['id']}/thumbnail" if has else None
        return {"model": svc.model_id, "file": name, "films": films}

    @router.get("/v1/films/{film}/thumbnail", tags=["model"],
                responses={200: {"content": {MEDIA_TYPE: {}}}, 404: {"model": ErrorBody}},
                response_class=Response)
    async def thumbnail(svc: Svc, film: str) -> Response:
        """A catalogue film's poster, small (WebP)."""
        data = None if svc.thumbnails is None else svc.thumbnails.get(film)
        if data is None:
            raise ApiError(404, f"no thumbnail for film {film[:40]!r}")
        return Response(data, media_type=MEDIA_TYPE,
                        headers={"Cache-Control": "public, max-age=86400"})

    return router
