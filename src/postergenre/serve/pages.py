"""The page, its static files and the model's report: what a browser opens.

``/`` is the page (``static/``: plain HTML, CSS and JS, no build step); ``/report`` the
report given with ``serve --report`` or found in the bundle's run folder (never through a
link planted there). ``/docs`` comes from ``fastapi_offline``: Swagger UI served from the
package, so it renders with no network.
"""


from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from .service import Service, service

STATIC = Path(__file__).parent / "static"


def pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Svc = Annotated[Service, Depends(service)]

    @router.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @router.get("/favicon.ico")
    async def favicon() -> Response:
        """No icon (pages that name none, such as the report, ask for this)."""
        return Response(status_code=204)

    @router.get("/report")
    async def report(svc: Svc) -> HTMLResponse:
        """The model's report (404 JSON when there is none)."""
        return HTMLResponse(await svc.in_pool(svc.read_report))

    return router
