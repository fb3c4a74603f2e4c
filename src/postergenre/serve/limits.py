"""What the server accepts, and the guard that enforces it before a request reaches a route.

``Limits`` holds every cap in one object. ``Guard`` is an ASGI middleware for the API's POST
routes: it refuses a body over ``max_request_bytes`` (413, by its declared length or while it
streams), admits at most ``max_requests`` at once (503 + ``Retry-After`` beyond), and answers
503 to a request still unanswered after ``timeout_s``. ``ApiError`` is the one error a route
raises; every error response is ``{"status", "error", "file"?, "field"?}``, never a trace.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import asdict, dataclass

from fastapi import HTTPException

from ..data.images import MAX_PIXELS

MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Caps on what one request may send and on the work the server takes on at once."""

    max_file_bytes: int = 10 * MB  # one uploaded image
    max_request_bytes: int = 40 * MB  # a whole request body, multipart overhead included
    max_pixels: int = min(MAX_PIXELS, 25_000_000)  # declared width x height (bombs)
    max_files: int = 16  # images per request
    max_text: int = 5000  # characters of a title or plot
    workers: int = 1  # inference threads (each runs whole batches)
    batch_size: int = 8  # rows per graph run
    max_queue: int = 256  # rows waiting for a worker; beyond: 503
    max_requests: int = 64  # API requests in flight; beyond: 503
    timeout_s: float = 60.0  # a request unanswered by then gets 503
    max_cells: int = 192  # occlusion cells of one explanation
    max_k: int = 50  # comparable films per query

    def check(self) -> Limits:
        for name, value in asdict(self).items():
            if not value > 0:
                raise ValueError(f"limit {name} must be positive, not {value}")
        return self


class ApiError(Exception):
    """A refused request: the HTTP status, why, and the file or field it is about."""

    def __init__(self, status: int, message: str, *, file: str | None = None,
                 field: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.message, self.file, self.field = status, message, file, field
        self.retry_after = retry_after

    def body(self) -> dict:
        out = {"status": self.status, "error": self.message}
        if self.file is not None:
            out["file"] = self.file
        if self.field is not None:
            out["field"] = self.field
        return out

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


# content sniffing: the formats a poster may come in, by their first bytes
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def sniff(data: bytes) -> str | None:
    """The image format the bytes start with (JPEG, PNG, WebP, GIF, BMP, TIFF), else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _SIGNATURES if data.startswith(magic)), None)


class Guard:
    """ASGI middleware: body size, admission and time limits on ``POST /v1/...`` requests."""

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] != "POST"
                or not scope["path"].startswith("/v1/")):
            return await self.app(scope, receive, send)
        limits = self.limits
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limits.max_request_bytes:
            return await _reply(send, self._too_large() if declared.isdigit() else ApiError(
                400, "Content-Length must be a whole number of bytes"))
        if self.in_flight >= limits.max_requests:
            return await _reply(send, ApiError(
                503, f"busy: {self.in_flight} requests in flight, try again shortly",
                retry_after=1))
        seen, started = 0, False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limits.max_request_bytes:
                raise HTTPException(413, self._too_large().message)
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        self.in_flight += 1
        try:
            async with asyncio.timeout(limits.timeout_s):
                await self.app(scope, counted_receive, watched_send)
        except TimeoutError:
            if not started:
                await _reply(send, ApiError(503, f"not answered within {limits.timeout_s:g} s; "
                                                 "the server is busy, try again", retry_after=5))
        finally:
            self.in_flight -= 1

    def _too_large(self) -> ApiError:
        return ApiError(413, f"request body over the {self.limits.max_request_bytes / MB:.3g} MB "
                             "limit")


async def _reply(send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers().items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
