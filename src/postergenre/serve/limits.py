"""What the server accepts: every cap in one object, the one error a route raises, sniffing.

``Limits`` holds every cap (``guard.Guard`` enforces the request-level ones before a route
runs). ``ApiError`` is the one error a route raises; every error response is
``{"status", "error", "file"?, "field"?}``, never a trace.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..data.images import MAX_PIXELS
from ..features.text import MAX_TEXT_CHARS

MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Caps on what one request may send and on the work the server takes on at once."""

    max_file_bytes: int = 10 * MB  # one uploaded image
    max_request_bytes: int = 40 * MB  # a whole request body, multipart overhead included
    max_pixels: int = min(MAX_PIXELS, 25_000_000)  # declared width x height (bombs)
    max_files: int = 16  # images per request
    max_text: int = MAX_TEXT_CHARS  # characters of a title or plot, as every input reads
    workers: int = 1  # inference threads (each runs whole batches)
    batch_size: int = 8  # rows per graph run
    max_queue: int = 256  # rows waiting for a worker; beyond: 503
    max_requests: int = 64  # API requests being processed (their body in); beyond: 503
    timeout_s: float = 60.0  # a request unanswered this long after its body came gets 503
    body_timeout_s: float = 30.0  # a request body not in by then gets 408
    max_connections: int = 512  # open connections (uvicorn's cap); beyond: 503
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
