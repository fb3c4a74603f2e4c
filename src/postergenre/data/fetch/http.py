"""The HTTP side: one shared httpx client and one streamed, size-limited download, with every
httpx error turned into a typed ``FetchFailure`` that says whether a retry can help."""

from __future__ import annotations

from pathlib import Path

import httpx

from .failures import FetchFailure
from .options import FetchOptions
from .storage import LimitedWriter, check_size

USER_AGENT = "postergenre/0.1 (poster dataset fetch)"


def make_client(opts: FetchOptions) -> httpx.AsyncClient:
    """A client with the run's timeouts, connection limits and redirect limit."""
    n = opts.concurrency
    return httpx.AsyncClient(
        timeout=httpx.Timeout(opts.timeout, connect=min(opts.timeout, opts.connect_timeout)),
        limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
        follow_redirects=True,
        max_redirects=opts.max_redirects,
        headers={"User-Agent": USER_AGENT},
    )


async def download(client: httpx.AsyncClient, url: str, tmp: Path, max_bytes: int) -> str:
    """Stream ``url`` into ``tmp``; returns the Content-Type. Raises ``FetchFailure``."""
    try:
        async with client.stream("GET", url) as r:
            if r.status_code >= 400:
                raise status_failure(r)
            declared = r.headers.get("content-length", "")
            if declared.isdigit():
                check_size(int(declared), max_bytes, "Content-Length")
            with open(tmp, "wb") as f:
                sink = LimitedWriter(f, max_bytes)
                async for chunk in r.aiter_bytes():
                    sink.write(chunk)
            return r.headers.get("content-type", "")
    except httpx.HTTPError as e:
        raise transport_failure(e) from None


def status_failure(r: httpx.Response) -> FetchFailure:
    """``http-<code>``; retryable for 5xx, 408 and 429 (honouring a Retry-After in seconds)."""
    code = r.status_code
    retryable = code >= 500 or code in (408, 429)
    retry_after = None
    if (value := r.headers.get("retry-after", "")).strip().isdigit():
        retry_after = float(value)
    return FetchFailure(f"http-{code}", r.reason_phrase or "", retryable, retry_after)


def transport_failure(e: httpx.HTTPError) -> FetchFailure:
    """The reason for an httpx error; timeouts and dropped connections are retryable."""
    text = str(e) or type(e).__name__
    if isinstance(e, httpx.TooManyRedirects):
        return FetchFailure("too-many-redirects", text)
    if isinstance(e, httpx.TimeoutException):
        return FetchFailure("timeout", f"{type(e).__name__} {text}", retryable=True)
    if isinstance(e, httpx.RemoteProtocolError):
        truncated = "complete message body" in text or "incomplete" in text
        return FetchFailure("truncated" if truncated else "protocol-error", text, retryable=True)
    if isinstance(e, httpx.NetworkError):
        return FetchFailure("connection-error", text, retryable=True)
    if isinstance(e, httpx.UnsupportedProtocol):
        return FetchFailure("unsupported-scheme", text)
    if isinstance(e, (httpx.InvalidURL, httpx.LocalProtocolError)):
        return FetchFailure("bad-url", text)
    if isinstance(e, httpx.DecodingError):
        return FetchFailure("protocol-error", text)
    return FetchFailure("connection-error", f"{type(e).__name__}: {text}", retryable=True)
