"""Why one poster could not be fetched: a reason code, the details, and what to do about it."""

from __future__ import annotations

import re

# What each failure reason means for the user; http-<status> reasons are explained by class.
HINTS = {
    "http-404": "the poster is gone at the source: find another URL for these films",
    "http-410": "the poster is gone at the source: find another URL for these films",
    "http-401": "the host wants a login: these URLs need credentials or another source",
    "http-403": "the host refused access (it may block scripts): check the URLs in a browser",
    "http-429": "the host rate-limited us: fetch fewer posters at once or wait between "
    "requests, then rerun",
    "http-4xx": "the host rejected the request: check the URLs",
    "http-5xx": "the host kept failing after retries: rerun later to fetch only what is missing",
    "timeout": "no complete answer in time: rerun later or allow a longer timeout",
    "connection-error": "the host could not be reached or dropped the connection: check the "
    "URL's host and the network, rerun",
    "truncated": "the connection closed before the whole file arrived (after retries): rerun",
    "protocol-error": "the server's answer was not valid HTTP: rerun later",
    "too-many-redirects": "the URL redirects in a loop or too often: check it in a browser",
    "too-large": "the file is over the size limit: raise it if such posters are expected",
    "not-an-image": "what came back does not decode as an image (often an HTML error page "
    "or a broken file): check the URL",
    "unsupported-format": "an image format postergenre does not read: convert these posters "
    "to JPEG/PNG/WebP",
    "unsupported-scheme": "only http://, https://, file:// and local paths are fetched",
    "bad-url": "the URL is malformed: fix it in the table",
    "missing-url": "the row has no poster URL",
    "missing-file": "the local file does not exist or cannot be read",
    "not-a-file": "the local path is a folder, device or pipe, not a poster file: fix the path",
}


def hint(reason: str) -> str:
    """What to do about a failure reason ('' when there is no advice)."""
    if reason in HINTS:
        return HINTS[reason]
    m = re.fullmatch(r"http-(\d)\d\d", reason)
    return HINTS.get(f"http-{m.group(1)}xx", "") if m else ""


class FetchFailure(Exception):
    """Why one poster could not be fetched: a reason code (see ``HINTS``) and details.

    ``retryable`` failures are tried again after a backoff (at least ``retry_after`` seconds
    when the server asked for that).
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail
        self.retryable, self.retry_after = retryable, retry_after
