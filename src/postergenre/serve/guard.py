"""The guard before the API's POST routes: body size and time, admission, answer time.

``Guard`` is an ASGI middleware on ``POST /v1/...``. It refuses a body over
``max_request_bytes`` (413, by its declared length or while it streams) and a body not in
within ``body_timeout_s`` (408). A request counts against ``max_requests`` only from the moment
its whole body is in until it is answered: a client trickling its body holds a connection, not
a place among the requests being processed (503 + ``Retry-After`` beyond the limit). A request
not answered ``timeout_s`` after its body came in gets 503.
"""

from __future__ import annotations

import asyncio
import json

from starlette.exceptions import HTTPException

from .limits import MB, ApiError, Limits


class Guard:
    """ASGI middleware: body size and time, admission and answer time of ``POST /v1/...``."""

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits
        self.in_flight = 0  # requests whose body is in and that are not answered yet

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] != "POST"
                or not scope["path"].startswith("/v1/")):
            return await self.app(scope, receive, send)
        limits = self.limits
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limits.max_request_bytes:
            return await _reply(send, self._too_large() if declared.isdigit() else ApiError(
                400, "Content-Length must be a whole number of bytes"))
        loop = asyncio.get_running_loop()
        seen, admitted, started = 0, False, False

        async def guarded_receive():
            nonlocal seen, admitted
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limits.max_request_bytes:
                raise _http(self._too_large())
            if message["type"] == "http.request" and not message.get("more_body") and not admitted:
                if self.in_flight >= limits.max_requests:
                    raise _http(ApiError(503, f"busy: {self.in_flight} requests being answered, "
                                              "try again shortly", retry_after=1))
                self.in_flight += 1
                admitted = True
                deadline.reschedule(loop.time() + limits.timeout_s)  # from now: the answer
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(limits.body_timeout_s) as deadline:  # first: the body
                await self.app(scope, guarded_receive, watched_send)
        except TimeoutError:
            if not started and admitted:
                await _reply(send, ApiError(503, f"not answered within {limits.timeout_s:g} s; "
                                                 "the server is busy, try again", retry_after=5))
            elif not started:
                await _reply(send, ApiError(408, f"request body not received within "
                                                 f"{limits.body_timeout_s:g} s"))
        finally:
            if admitted:
                self.in_flight -= 1

    def _too_large(self) -> ApiError:
        return ApiError(413, f"request body over the {self.limits.max_request_bytes / MB:.3g} MB "
                             "limit")


def _http(error: ApiError) -> HTTPException:
    """``error`` as the exception FastAPI lets through from a body read (its handler answers)."""
    return HTTPException(error.status, error.message, headers=error.headers() or None)


async def _reply(send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers().items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
