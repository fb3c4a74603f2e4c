"""The web app: the JSON API over one loaded bundle, and the page that uses it.

``create_app(bundle)`` builds a FastAPI app (the bundle is loaded once by the caller) from the
API's router (``api``), the page's (``pages``) and the ``Guard`` in front of them. Routes raise
``ApiError``; the handlers here turn it, FastAPI's validation errors and anything unexpected
into ``{"status", "error", ...}`` JSON (a 500 says no more than "internal error").
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from .. import __version__
from ..bundle import Bundle
from ..bundle.similar import SimilarIndex
from .api import api
from .guard import Guard
from .limits import ApiError, Limits
from .pages import STATIC, pages
from .service import Service

log = logging.getLogger("postergenre.serve")


def create_app(bundle: Bundle, limits: Limits | None = None,
               index: SimilarIndex | None = None, report: Path | None = None) -> FastAPI:
    """The app for one loaded bundle (its comparable-films index, if it has one, and the
    report to serve, if not the one in the bundle's run folder)."""
    limits = (limits or Limits()).check()
    service = Service(bundle, limits, index, report)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.close()

    app = FastAPIOffline(
        title="postergenre", version=__version__, lifespan=lifespan,
        description="Genres of movie posters: predict, explain, find comparable films. Every "
                    "error is JSON: `{status, error, file?, field?}`.")
    app.state.service = service
    _handlers(app)
    app.include_router(api(bundle.genres, limits))
    app.include_router(pages())
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
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
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
