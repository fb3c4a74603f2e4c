"""Turning a table cell into something to fetch: an http(s) URL or a local path."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pandas as pd

from .failures import FetchFailure

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_blank(value: object) -> bool:
    """A missing cell (None or NaN)."""
    return value is None or (isinstance(value, float) and pd.isna(value))


def resolve(value: object, base_url: str | None, table_dir: Path) -> tuple[str, bool]:
    """(URL or path, is_local) for one cell; ``FetchFailure`` for missing/unsupported ones.

    Protocol-relative URLs (``//host/...``) become https; text without a scheme is prefixed
    with ``base_url`` if given, else it is a local path, relative to the table's folder.
    """
    if is_blank(value) or not str(value).strip():
        raise FetchFailure("missing-url")
    text = str(value).strip()
    if text.startswith("//"):  # protocol-relative, as in some HTML exports
        text = "https:" + text
    if base_url and not _SCHEME.match(text):
        text = base_url.rstrip("/") + "/" + text.lstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError as e:
        raise FetchFailure("bad-url", str(e)) from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise FetchFailure("bad-url", f"no host in {text!r}")
        return text, False
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise FetchFailure("unsupported-scheme", f"file URL on another host: {text!r}")
        return url2pathname(unquote(parts.path)), True
    if scheme == "":
        path = Path(text).expanduser()
        return str(path if path.is_absolute() else table_dir / path), True
    raise FetchFailure("unsupported-scheme", f"{scheme}:// in {text[:80]!r}")


def check_base_url(base_url: str | None) -> None:
    """``FetchFailure`` when a ``--base-url`` could never give a fetchable URL (a scheme fetch
    does not take, an http URL with no host), before any row is read."""
    if base_url and _SCHEME.match(base_url.strip()):
        resolve("poster.jpg", base_url, Path())
