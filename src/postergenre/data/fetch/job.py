"""``fetch_table``: one whole run, from a movie table to a dataset folder."""

from __future__ import annotations

import contextlib
import fcntl
import re
import time
from pathlib import Path

import pandas as pd

from ...atomic import check_output, write_with
from ...errors import UserError
from .. import table as T
from ..filters import Filters, apply_filters
from .failures import FetchFailure
from .options import FetchOptions, OptionError
from .pool import Job, fetch_jobs
from .storage import Layout, already_fetched, read_manifest, remove_temps, write_manifest
from .summary import Selection, Tally, write_reports
from .urls import check_base_url, resolve

URL_CANDIDATES = tuple(
    "image poster poster_url posterurl poster_link image_url imageurl img img_url cover cover_url "
    "url link poster_path path file".split()
)


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

    Safe to re-run: only what is missing or failed is fetched again. Bad input (an empty
    table, a missing column, ``out`` being a file) raises ``UserError``; ``OptionError`` names
    the argument at fault.
    """
    start = time.perf_counter()
    table, layout = Path(table), Layout.of(Path(out))
    _check_out(table, layout)
    try:
        check_base_url(base_url)
    except FetchFailure as f:
        raise OptionError("base_url", "", f" {base_url}: {f.reason}: {f.detail}") from None
    sel = select(table, filters or Filters(), id_column, url_column)
    opts = options or FetchOptions()
    try:
        with _lock(layout.reports):
            tally = _fetch(sel, layout, base_url, opts, progress)
            return write_reports(sel, layout, tally, opts, round(time.perf_counter() - start, 2))
    except OSError as e:
        where = e.filename or layout.out
        raise UserError(f"{where}: cannot write the dataset: {e.strerror or e}") from None


def select(
    table: Path, filters: Filters, id_column: str | None, url_column: str | None
) -> Selection:
    """Read the table, find its id and URL columns, apply the filters, keep one row per id."""
    df = T.read_table(table)  # refuses an empty table
    id_col = _column(df, table, id_column, T.ID_CANDIDATES, "id_column", "id")
    url_col = _column(df, table, url_column, URL_CANDIDATES, "url_column", "poster URL")
    kept, steps = apply_filters(df, filters, table)
    kept, id_steps, ids = _usable_ids(kept, id_col)
    columns = {"id": id_col, "url": url_col}
    return Selection(table, len(df), columns, steps + id_steps, kept, ids, list(kept[url_col]))


def _column(
    df: pd.DataFrame, path: Path, given: str | None, candidates: tuple, option: str, what: str
) -> str:
    if not given:
        if found := T.find_column(df, candidates):
            return found
        raise OptionError(option, f"{path}: no {what} column found; name it with ")
    if given not in df.columns:
        columns = ", ".join(df.columns)
        raise OptionError(
            option, f"{path}: no column {given!r} (given by ", f"); columns are: {columns}"
        )
    return given


def _usable_ids(df: pd.DataFrame, id_col: str) -> tuple[pd.DataFrame, list[dict], list[str]]:
    """Drop rows without a usable id (none, or a hidden-file name) and repeated ids (the first
    row of an id is kept): each id names one poster file."""
    ids = df[id_col].map(T.normalise_id)
    ok = [isinstance(i, str) and not i.startswith(".") and "\x00" not in i for i in ids]
    usable = pd.Series(ok, index=ids.index, dtype=bool)
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


def _check_out(table: Path, layout: Layout) -> None:
    check_output(layout.out, "--out")
    if layout.table.exists() and layout.table.resolve() == table.resolve():
        what = f"{table} is the table fetch writes; pass the original table or another "
        raise OptionError("out", what)


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


def _fetch(
    sel: Selection, layout: Layout, base_url: str | None, opts: FetchOptions, progress: bool
) -> Tally:
    """Write the table, skip what is already there, fetch the rest; the manifest is written
    even when the run stops part-way."""
    layout.posters.mkdir(parents=True, exist_ok=True)
    remove_temps(layout.posters)  # left by a killed run
    _write_table(sel.frame, layout.table)
    urls = sel.urls
    present = already_fetched(urls, layout.posters, read_manifest(layout.manifest))
    tally = Tally(present, already=len(present))
    jobs: dict[tuple[str, bool], Job] = {}  # one download per distinct source
    for id_, value in zip(sel.ids, sel.cells, strict=True):
        if id_ in present:
            continue
        try:
            source, local = resolve(value, base_url, sel.table.parent)
        except FetchFailure as f:
            tally.failures[id_] = (urls[id_], f, 0)
            continue
        jobs.setdefault((source, local), Job(source, [], local)).ids.append(id_)
    try:
        for outcome in fetch_jobs(list(jobs.values()), layout.posters, opts, progress):
            tally.record(outcome, urls)
    finally:
        write_manifest(layout.manifest, tally.present, sel.ids)
    return tally


def _write_table(df: pd.DataFrame, path: Path) -> None:
    """The filtered table with its original header (pandas' ``Unnamed: 0`` back to empty)."""
    out = df.rename(columns=lambda c: "" if re.fullmatch(r"Unnamed: \d+", str(c)) else c)
    write_with(path, lambda tmp: out.to_csv(tmp, index=False))
