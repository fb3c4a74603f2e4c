"""``data fetch``: turn a movie table with poster URLs into a dataset folder.

The folder it makes is one ``load_dataset`` reads unchanged::

    DIR/movies.csv             the filtered table, original columns
    DIR/posters/<id>.<ext>     one validated poster per id (.jpg/.png/.webp/... by content)
    DIR/fetch/report.json      counts, filters and rows removed, failures by reason, duplicates
    DIR/fetch/failures.csv     id,url,reason,attempts,detail
    DIR/fetch/posters.csv      id,file,url,sha256,bytes of every poster present

(The reports live in a sub-folder because ``load_dataset`` reads every table in ``DIR``.)

One poster's path: a row's URL is resolved (http(s), ``file://`` or a local path; anything else
is refused), downloaded with an explicit timeout, size limit and redirect limit, retried with
exponential backoff on 5xx/408/429, timeouts and dropped connections (never on other 4xx),
streamed to ``posters/.<id>.*.part``, decoded to prove it is an image, and only then renamed
onto ``posters/<id>.<ext>``. A killed run leaves at most ``.part`` files, which the next run
deletes; the next run also skips every id whose file is present and valid, so re-running the
same command finishes the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import os
import random
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import httpx
import pandas as pd
from PIL import Image

from ..atomic import write_json, write_with
from ..errors import UserError
from ..progress import track
from . import table as T
from .dataset import find_tables
from .filters import Filters, apply_filters
from .images import IMAGE_SUFFIXES, ImageError, content_hash, decode

URL_CANDIDATES = tuple(
    "image poster poster_url posterurl poster_link image_url imageurl img img_url cover cover_url "
    "url link poster_path path file".split()
)
FORMAT_SUFFIX = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
}
TABLE_NAME = "movies.csv"
POSTERS = "posters"
REPORTS = "fetch"
USER_AGENT = "postergenre/0.1 (poster dataset fetch)"

# What each failure reason means for the user; http-<status> reasons are explained by class.
HINTS = {
    "http-404": "the poster is gone at the source: find another URL for these films",
    "http-410": "the poster is gone at the source: find another URL for these films",
    "http-401": "the host wants a login: these URLs need credentials or another source",
    "http-403": "the host refused access (it may block scripts): check the URLs in a browser",
    "http-429": "the host rate-limited us: lower --concurrency/--per-host or add --delay, rerun",
    "http-4xx": "the host rejected the request: check the URLs",
    "http-5xx": "the host kept failing after retries: rerun later to fetch only what is missing",
    "timeout": "no complete answer in time: rerun later or raise --timeout",
    "connection-error": "the host could not be reached or dropped the connection: check the "
    "URL's host and the network, rerun",
    "truncated": "the connection closed before the whole file arrived (after retries): rerun",
    "protocol-error": "the server's answer was not valid HTTP: rerun later",
    "too-many-redirects": "the URL redirects in a loop or too often: check it in a browser",
    "too-large": "the file is over --max-mb: raise it if such posters are expected",
    "not-an-image": "what came back does not decode as an image (often an HTML error page "
    "or a broken file): check the URL",
    "unsupported-format": "an image format postergenre does not read: convert these posters "
    "to JPEG/PNG/WebP",
    "unsupported-scheme": "only http://, https://, file:// and local paths are fetched",
    "bad-url": "the URL is malformed: fix it in the table",
    "missing-url": "the row has no poster URL",
    "missing-file": "the local file does not exist or cannot be read",
}


def hint(reason: str) -> str:
    if reason in HINTS:
        return HINTS[reason]
    m = re.fullmatch(r"http-(\d)\d\d", reason)
    return HINTS.get(f"http-{m.group(1)}xx", "") if m else ""


@dataclass(frozen=True)
class FetchOptions:
    """Limits for downloading: all explicit, all in one place."""

    concurrency: int = 8  # downloads in flight overall
    per_host: int = 4  # ... and per host (politeness)
    delay: float = 0.0  # minimum seconds between two request starts on one host
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(20.0, connect=10.0))
    deadline: float = 60.0  # one attempt, start to last byte (stops slow drip-feeds)
    retries: int = 3  # extra attempts after the first, for retryable failures only
    backoff: float = 0.5  # seconds before the first retry; doubles each time (with jitter)
    max_backoff: float = 30.0  # also the cap on a server's Retry-After
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5

    def __post_init__(self):
        if self.concurrency < 1 or self.per_host < 1:
            raise UserError("--concurrency and --per-host must be at least 1")
        if self.retries < 0 or self.max_bytes < 1 or self.deadline <= 0:
            raise UserError("--retries must be >= 0, --max-mb and --timeout > 0")


class FetchFailure(Exception):
    """Why one poster could not be fetched: a reason code (see ``HINTS``) and details."""

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


@dataclass
class Job:
    """One source (URL or local path) and the ids whose poster it is."""

    source: str  # the resolved URL, or a local path
    ids: list[str]
    local: bool = False


@dataclass
class Outcome:
    job: Job
    attempts: int
    files: list[Path] = field(default_factory=list)
    sha256: str | None = None
    size: int | None = None
    failure: FetchFailure | None = None


# --------------------------------------------------------------------------- resolving URLs


def resolve(value: object, base_url: str | None, table_dir: Path) -> tuple[str, bool]:
    """(URL or path, is_local) for one cell; ``FetchFailure`` for missing/unsupported ones.

    Relative local paths are taken relative to the table's folder.
    """
    if _blank(value) or not str(value).strip():
        raise FetchFailure("missing-url")
    text = str(value).strip()
    if text.startswith("//"):  # protocol-relative, as in some HTML exports
        text = "https:" + text
    if base_url and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
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


# --------------------------------------------------------------------------- one download


def _status_failure(r: httpx.Response) -> FetchFailure:
    code = r.status_code
    retryable = code >= 500 or code in (408, 429)
    retry_after = None
    if (value := r.headers.get("retry-after", "")).strip().isdigit():
        retry_after = float(value)
    return FetchFailure(f"http-{code}", r.reason_phrase or "", retryable, retry_after)


def _transport_failure(e: httpx.HTTPError) -> FetchFailure:
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


async def _download(client: httpx.AsyncClient, url: str, tmp: Path, opts: FetchOptions) -> str:
    """Stream ``url`` into ``tmp``; returns the Content-Type. Raises ``FetchFailure``."""
    too_large = f"over the {opts.max_bytes:,}-byte limit"
    try:
        async with client.stream("GET", url) as r:
            if r.status_code >= 400:
                raise _status_failure(r)
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > opts.max_bytes:
                raise FetchFailure("too-large", f"Content-Length {int(declared):,} {too_large}")
            size = 0
            with open(tmp, "wb") as f:
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > opts.max_bytes:
                        raise FetchFailure("too-large", f"body {too_large}")
                    f.write(chunk)
            return r.headers.get("content-type", "")
    except httpx.HTTPError as e:
        raise _transport_failure(e) from None


def _copy_local(path: str, tmp: Path, opts: FetchOptions) -> None:
    try:
        size = os.stat(path).st_size
        if size > opts.max_bytes:
            raise FetchFailure("too-large", f"{size:,} bytes, over the {opts.max_bytes:,} limit")
        shutil.copyfile(path, tmp)
    except IsADirectoryError:
        raise FetchFailure("missing-file", f"{path} is a folder") from None
    except OSError as e:
        raise FetchFailure("missing-file", f"{path}: {e.strerror or e}") from None


def validate(data: bytes, content_type: str = "") -> str:
    """The file suffix for a poster's bytes, or ``FetchFailure`` if they are not an image."""
    try:
        decode(data)
    except ImageError as e:
        detail = str(e)
        if data[:200].lstrip()[:1] == b"<":
            detail += "; the body looks like HTML/XML (an error or login page?)"
        if content_type:
            detail += f"; served as {content_type}"
        raise FetchFailure("not-an-image", detail) from None
    fmt = Image.open(io.BytesIO(data)).format
    if fmt not in FORMAT_SUFFIX:
        raise FetchFailure("unsupported-format", f"{fmt} image")
    return FORMAT_SUFFIX[fmt]


def _place(
    tmp: Path, ids: list[str], folder: Path, content_type: str
) -> tuple[list[Path], str, int]:
    """Validate the downloaded temp file and move it onto ``<id><suffix>`` for each id.

    Runs in a worker thread (decoding is CPU work). Other files of the same id (another
    suffix, from an earlier run) are removed once the new one is in place.
    """
    data = tmp.read_bytes()
    suffix = validate(data, content_type)
    files = []
    for i, id_ in enumerate(ids):
        final = folder / f"{id_}{suffix}"
        if i < len(ids) - 1:  # a URL shared by several ids: a copy each, each atomic
            copy = _temp_in(folder, id_)
            shutil.copyfile(tmp, copy)
            os.replace(copy, final)
        else:
            os.replace(tmp, final)
        for suffix_ in IMAGE_SUFFIXES - {suffix}:  # an older file of this id, other format
            (folder / f"{id_}{suffix_}").unlink(missing_ok=True)
        files.append(final)
    return files, content_hash(data), len(data)


def _temp_in(folder: Path, id_: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{id_}.", suffix=".part")
    os.close(fd)
    return Path(name)


# --------------------------------------------------------------------------- many downloads


class _HostGate:
    """At most ``per_host`` requests in flight to one host, starts at least ``delay`` apart."""

    def __init__(self, per_host: int, delay: float):
        self.slots = asyncio.Semaphore(per_host)
        self.delay, self.next_start, self.lock = delay, 0.0, asyncio.Lock()

    @contextlib.asynccontextmanager
    async def turn(self):
        async with self.slots:
            if self.delay:
                async with self.lock:
                    now = time.monotonic()
                    wait, self.next_start = (
                        self.next_start - now,
                        max(now, self.next_start) + self.delay,
                    )
                if wait > 0:
                    await asyncio.sleep(wait)
            yield


async def _fetch_one(
    job: Job,
    folder: Path,
    opts: FetchOptions,
    client: httpx.AsyncClient,
    slots: asyncio.Semaphore,
    gates: dict[str, _HostGate],
) -> Outcome:
    host = "" if job.local else (urlsplit(job.source).hostname or "")
    gate = gates.setdefault(host, _HostGate(opts.per_host, opts.delay))
    attempt = 0
    while True:
        attempt += 1
        tmp = None
        try:
            async with gate.turn(), slots:
                tmp = _temp_in(folder, job.ids[0])
                try:
                    async with asyncio.timeout(opts.deadline):
                        if job.local:
                            await asyncio.to_thread(_copy_local, job.source, tmp, opts)
                            content_type = ""
                        else:
                            content_type = await _download(client, job.source, tmp, opts)
                except TimeoutError:
                    raise FetchFailure(
                        "timeout", f"no complete answer within {opts.deadline:g} s", retryable=True
                    ) from None
            files, digest, size = await asyncio.to_thread(
                _place, tmp, job.ids, folder, content_type
            )
            return Outcome(job, attempt, files, digest, size)
        except FetchFailure as f:
            if not f.retryable or attempt > opts.retries:
                return Outcome(job, attempt, failure=f)
            wait = opts.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
            if f.retry_after is not None:
                wait = max(wait, f.retry_after)
            await asyncio.sleep(min(wait, opts.max_backoff))
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


async def _fetch_all(
    jobs: list[Job], folder: Path, opts: FetchOptions, emit: Callable[[Outcome], None]
) -> None:
    limits = httpx.Limits(
        max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency
    )
    async with httpx.AsyncClient(
        timeout=opts.timeout,
        limits=limits,
        follow_redirects=True,
        max_redirects=opts.max_redirects,
        headers={"User-Agent": USER_AGENT},
    ) as client:
        slots = asyncio.Semaphore(opts.concurrency)
        gates: dict[str, _HostGate] = {}

        async def one(job: Job) -> None:
            emit(await _fetch_one(job, folder, opts, client, slots, gates))

        try:
            async with asyncio.TaskGroup() as tasks:
                for job in jobs:
                    tasks.create_task(one(job))
        except BaseExceptionGroup as group:  # e.g. a full disk: report the cause, not a group
            raise group.exceptions[0] from None


def download(
    jobs: list[Job], folder: Path, opts: FetchOptions, progress: bool = True
) -> Iterable[Outcome]:
    """Fetch every job concurrently; yields outcomes as they finish (with a progress bar).

    The event loop runs between yields, so a caller records each outcome as it arrives. On
    Ctrl-C or an error (e.g. a full disk) every download is cancelled and its temp file removed.
    """
    if not jobs:
        return
    with asyncio.Runner() as runner:
        done: asyncio.Queue[Outcome] = asyncio.Queue()
        main = runner.get_loop().create_task(_fetch_all(jobs, folder, opts, done.put_nowait))

        async def next_outcome() -> Outcome:
            get = asyncio.ensure_future(done.get())
            await asyncio.wait({get, main}, return_when=asyncio.FIRST_COMPLETED)
            if get.done():
                return get.result()
            get.cancel()
            main.result()  # raises what stopped the downloads
            raise RuntimeError("downloads stopped before every job finished")

        async def finish() -> None:
            await main

        try:
            outcomes = (runner.run(next_outcome()) for _ in jobs)
            yield from track(outcomes, len(jobs), "fetching posters", progress)
            runner.run(finish())
        finally:
            if not main.done():
                main.cancel()
                with contextlib.suppress(BaseException):
                    runner.run(finish())


# --------------------------------------------------------------------------- the whole job


@contextlib.contextmanager
def _lock(folder: Path):
    """One fetch at a time per dataset folder (released by the OS if the process dies)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{folder.parent}: another fetch is running on this folder") from None
        yield


def _table_columns(
    df: pd.DataFrame, path: Path, id_column: str | None, url_column: str | None
) -> tuple[str, str]:
    if id_column:
        id_col = T.require_column(df, id_column, path, "--id-column")
    elif not (id_col := T.find_column(df, T.ID_CANDIDATES)):
        raise UserError(f"{path}: no id column found; name it with --id-column")
    if url_column:
        url_col = T.require_column(df, url_column, path, "--url-column")
    elif not (url_col := T.find_column(df, URL_CANDIDATES)):
        raise UserError(f"{path}: no poster URL column found; name it with --url-column")
    return id_col, url_col


def _usable_ids(df: pd.DataFrame, id_col: str) -> tuple[pd.DataFrame, list[dict], list[str]]:
    """Drop rows without a usable id (none, or a hidden-file name) and repeated ids (the first
    row of an id is kept): each id names one poster file."""
    ids = df[id_col].map(T.normalise_id)
    usable = ids.map(lambda i: i is not None and not i.startswith(".") and "\x00" not in i)
    first = usable & ~ids.duplicated()
    steps = [
        {
            "filter": what,
            "column": id_col,
            "removed": int(before.sum() - after.sum()),
            "kept": int(after.sum()),
        }
        for what, before, after in (
            ("usable id", pd.Series(True, ids.index), usable),
            ("one row per id", usable, first),
        )
        if before.sum() > after.sum()
    ]
    return df[first], steps, ids[first].tolist()


def _write_table(df: pd.DataFrame, path: Path) -> None:
    """The filtered table with its original header (pandas' ``Unnamed: 0`` back to empty)."""
    out = df.rename(columns=lambda c: "" if re.fullmatch(r"Unnamed: \d+", str(c)) else c)
    write_with(path, lambda tmp: out.to_csv(tmp, index=False))


def _read_manifest(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        m = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception:  # noqa: BLE001 - a damaged manifest only costs re-validation
        return {}
    return {r["id"]: r for r in m.to_dict("records")}


def _check_existing(
    urls: dict[str, str], folder: Path, manifest: dict[str, dict]
) -> dict[str, dict]:
    """Ids whose poster is already on disk and valid → manifest entry. A file recorded for the
    same URL with the same hash is trusted; any other file is decoded first."""
    on_disk: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file():
            on_disk.setdefault(p.stem, p)

    def check(id_: str) -> dict | None:
        path, seen = on_disk[id_], manifest.get(id_)
        if seen and seen.get("url") != urls[id_]:
            return None  # the table now points elsewhere: fetch again
        try:
            data = path.read_bytes()
        except OSError:
            return None
        digest = content_hash(data)
        if not (seen and seen.get("file") == path.name and seen.get("sha256") == digest):
            try:
                validate(data)
            except FetchFailure:
                return None  # not what a fetch writes: fetch it again
        return {
            "id": id_,
            "file": path.name,
            "url": urls[id_],
            "sha256": digest,
            "bytes": len(data),
        }

    todo = [i for i in urls if i in on_disk]
    with ThreadPoolExecutor(min(8, (os.cpu_count() or 1) + 2)) as pool:
        return {i: r for i, r in zip(todo, pool.map(check, todo), strict=True) if r}


def fetch_table(
    table: str | Path,
    out: str | Path,
    filters: Filters | None = None,
    id_column: str | None = None,
    url_column: str | None = None,
    base_url: str | None = None,
    options: FetchOptions | None = None,
    progress: bool = True,
) -> dict:
    """Filter ``table``, download every poster it names into ``out`` and return the report.

    Safe to re-run: only what is missing or failed is fetched again.
    """
    start = time.perf_counter()
    table, out = Path(table), Path(out)
    opts = options or FetchOptions()
    filters = filters or Filters()
    df = T.read_table(table)
    rows_in = len(df)
    target = out / TABLE_NAME
    if target.exists() and target.resolve() == table.resolve():
        raise UserError(
            f"{table} is the table fetch writes; pass the original table or another --out"
        )
    id_col, url_col = _table_columns(df, table, id_column, url_column)
    df, steps = apply_filters(df, filters, table)
    df, id_steps, ids = _usable_ids(df, id_col)
    steps += id_steps

    folder, reports = out / POSTERS, out / REPORTS
    with _lock(reports):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".*.part"):  # left by a killed run
            stale.unlink(missing_ok=True)
        _write_table(df, target)

        cells = zip(ids, df[url_col], strict=True)
        urls = {i: "" if _blank(v) else str(v).strip() for i, v in cells}
        manifest_path = reports / "posters.csv"
        present = _check_existing(urls, folder, _read_manifest(manifest_path))
        already = len(present)

        failures: dict[str, tuple[str, FetchFailure, int]] = {}  # id → (url, failure, attempts)
        jobs: dict[tuple[str, bool], Job] = {}  # one download per distinct source
        for id_, value in zip(ids, df[url_col], strict=True):
            if id_ in present:
                continue
            try:
                source, local = resolve(value, base_url, table.parent)
            except FetchFailure as f:
                failures[id_] = (urls[id_], f, 0)
                continue
            jobs.setdefault((source, local), Job(source, [], local)).ids.append(id_)

        downloaded = 0
        try:
            for o in download(list(jobs.values()), folder, opts, progress):
                for id_, path in zip(o.job.ids, o.files, strict=False):
                    present[id_] = {
                        "id": id_,
                        "file": path.name,
                        "url": urls[id_],
                        "sha256": o.sha256,
                        "bytes": o.size,
                    }
                    downloaded += 1
                for id_ in o.job.ids if o.failure else []:
                    failures[id_] = (urls[id_], o.failure, o.attempts)
        except OSError as e:
            raise UserError(f"{out}: cannot write: {e.strerror or e}") from None
        finally:
            _write_manifest(manifest_path, present, ids)

        reasons = Counter(f.reason for _, f, _ in failures.values())
        report = {
            "table": str(table),
            "out": str(out),
            "columns": {"id": id_col, "url": url_col},
            "rows_in_table": rows_in,
            "filters": steps,
            "rows_selected": len(ids),
            "posters": {
                "present": len(present),
                "downloaded": downloaded,
                "already_present": already,
                "failed": len(failures),
            },
            "failures_by_reason": dict(reasons.most_common()),
            "hints": {r: hint(r) for r in reasons},
            "duplicates": _duplicates(ids, present),
            "notes": _notes(out, folder, set(ids)),
            "files": {
                "table": str(target),
                "posters": str(folder),
                "failures": str(reports / "failures.csv"),
                "manifest": str(manifest_path),
            },
            "options": _options(opts),
            "seconds": round(time.perf_counter() - start, 2),
        }
        _write_failures(reports / "failures.csv", failures)
        write_json(reports / "report.json", report)
    return report


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _write_manifest(path: Path, present: dict[str, dict], ids: list[str]) -> None:
    rows = [present[i] for i in ids if i in present]
    frame = pd.DataFrame(rows, columns=["id", "file", "url", "sha256", "bytes"])
    write_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def _write_failures(path: Path, failures: dict[str, tuple[str, FetchFailure, int]]) -> None:
    frame = pd.DataFrame(
        [
            {"id": i, "url": u, "reason": f.reason, "attempts": n, "detail": f.detail}
            for i, (u, f, n) in sorted(failures.items())
        ],
        columns=["id", "url", "reason", "attempts", "detail"],
    )
    write_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def _duplicates(ids: list[str], present: dict[str, dict]) -> list[dict]:
    """Groups of ids whose posters are byte-identical (box-set covers, placeholders)."""
    by_hash = defaultdict(list)
    for i in ids:
        if i in present:
            by_hash[present[i]["sha256"]].append(i)
    groups = [{"sha256": h, "ids": sorted(g)} for h, g in by_hash.items() if len(g) > 1]
    return sorted(groups, key=lambda d: (-len(d["ids"]), d["ids"][0]))


def _notes(out: Path, folder: Path, wanted: set[str]) -> list[str]:
    notes = []
    strays = sorted(
        p.name
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem not in wanted
    )
    if strays:
        notes.append(
            f"{len(strays)} poster file(s) in {folder} are not in the filtered table (left in "
            f"place; load_dataset sees them as unlabelled), e.g. {', '.join(strays[:5])}"
        )
    other_tables = [p.name for p in find_tables(out) if p.name != TABLE_NAME]
    if other_tables:
        notes.append(f"load_dataset also reads the other tables in {out}: {other_tables}")
    return notes


def _options(opts: FetchOptions) -> dict:
    return {
        "concurrency": opts.concurrency,
        "per_host": opts.per_host,
        "delay": opts.delay,
        "timeout": opts.timeout.read,
        "deadline": opts.deadline,
        "retries": opts.retries,
        "max_bytes": opts.max_bytes,
        "max_redirects": opts.max_redirects,
    }
