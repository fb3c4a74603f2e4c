"""Row filters for a movie table: required fields, content rating, year range, genres.

Each filter names the column it used and how many rows it removed, so a fetch report can say
exactly why a film is not in the dataset. Columns are detected unless given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import UserError
from . import table as T

RATING_CANDIDATES = tuple(
    "contentrating content_rating mpaa_rating mpaa certificate certification rated age_rating "
    "rating".split()
)
# "description" is where the IMDb API export keeps the year.
YEAR_CANDIDATES = (
    *T.YEAR_CANDIDATES,
    *"release_date releasedate released date description".split(),
)
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_MISSING = {"", "none", "null", "nan", "n/a", "na"}


@dataclass
class Filters:
    """What to keep; ``None`` means no filter. Column names ``None`` mean detect."""

    ratings: list[str] | None = None
    years: tuple[int | None, int | None] | None = None
    genres: list[str] | None = None
    require: list[str] | None = None
    rating_column: str | None = None
    year_column: str | None = None
    genres_column: str | None = None


def parse_list(text: str | None) -> list[str] | None:
    """``"G, PG,PG-13"`` → ``["G", "PG", "PG-13"]``; empty → None."""
    if not text:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def parse_years(text: str | None) -> tuple[int | None, int | None] | None:
    """``1980-2023``, ``1990-``, ``-2000`` or ``1995`` → an inclusive (low, high) range."""
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d{4})?\s*(?:(-|\.\.)\s*(\d{4})?)?\s*", text)
    if not m or not (m.group(1) or m.group(3)):
        raise UserError(f"--years {text!r}: use FROM-TO, FROM-, -TO or one year (e.g. 1980-2023)")
    low = int(m.group(1)) if m.group(1) else None
    high = int(m.group(3)) if m.group(3) else (low if not m.group(2) else None)
    if low is not None and high is not None and low > high:
        raise UserError(f"--years {text!r}: {low} is after {high}")
    return low, high


def year_of(value: object) -> int | None:
    """The first plausible year (1800-2099) in a cell: ``1995``, ``1995-10-30``, ``(1995)``."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    m = _YEAR.search(str(value))
    return int(m.group(1)) if m else None


def is_missing(value: object) -> bool:
    """Null, or text like ``""``, ``"n/a"`` or ``"null"``."""
    return T.is_null(value) or (isinstance(value, str) and value.strip().lower() in _MISSING)


def _rating_key(value: object) -> str:
    """``PG-13``, ``pg13`` and ``PG 13`` compare equal."""
    return re.sub(r"[^0-9a-z]", "", str(value).casefold())


def _column(df: pd.DataFrame, name: str, path: Path, flag: str) -> str:
    """An exact or case-insensitive column match, or a ``UserError`` listing the columns."""
    if name in df.columns:
        return name
    by_lower = {c.lower(): c for c in df.columns}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise UserError(f"{path}: no column {name!r} ({flag}); columns are: {', '.join(df.columns)}")


def rating_column(df: pd.DataFrame, path: Path, given: str | None) -> str:
    return _detected(df, path, given, "--rating-column", RATING_CANDIDATES, _certificates,
                     "content-rating")


def year_column(df: pd.DataFrame, path: Path, given: str | None) -> str:
    return _detected(df, path, given, "--year-column", YEAR_CANDIDATES, _years, "year")


def _detected(df: pd.DataFrame, path: Path, given: str | None, flag: str,
              candidates: Sequence[str], fits: Callable[[pd.Series], bool], what: str) -> str:
    """The column ``given`` names (through ``flag``), else the first of ``candidates`` whose
    non-null values ``fits``; a ``UserError`` when there is none."""
    if given:
        return _column(df, given, path, flag)
    for name in candidates:
        col = T.find_column(df, (name,))
        if col is not None and fits(df[col].dropna()):
            return col
    raise UserError(f"{path}: no {what} column found; name it with {flag}")


def _certificates(values: pd.Series) -> bool:
    """Mostly not numbers: a "rating" holding 7.8 is a score, not a certificate."""
    text = values.astype(str)
    return bool((pd.to_numeric(text, errors="coerce").notna().mean() if len(text) else 0) < 0.5)


def _years(values: pd.Series) -> bool:
    """Mostly plausible years."""
    return bool(len(values)) and bool(values.map(year_of).notna().mean() >= 0.5)


def apply_filters(
    df: pd.DataFrame, filters: Filters, path: Path
) -> tuple[pd.DataFrame, list[dict]]:
    """Rows that pass every filter, and one entry per filter: what, which column, how many
    rows it removed (in the order applied: required fields, rating, years, genres)."""
    from .dataset import Columns, _genres  # the same genre parsing as load_dataset

    steps = []

    def keep(mask: pd.Series, what: str, column: str) -> None:
        nonlocal df
        steps.append(
            {
                "filter": what,
                "column": column,
                "removed": int((~mask).sum()),
                "kept": int(mask.sum()),
            }
        )
        df = df[mask]

    for name in filters.require or []:
        col = _column(df, name, path, "--require")
        keep(~df[col].map(is_missing), f"{col} present", col)
    if filters.ratings:
        col = rating_column(df, path, filters.rating_column)
        wanted = {_rating_key(r) for r in filters.ratings}
        keep(
            df[col].map(lambda v: not is_missing(v) and _rating_key(v) in wanted),
            f"rating in {', '.join(filters.ratings)}",
            col,
        )
    if filters.years:
        col = year_column(df, path, filters.year_column)
        low, high = filters.years
        years = df[col].map(year_of)
        mask = years.notna()
        if low is not None:
            mask &= years.fillna(0) >= low
        if high is not None:
            mask &= years.fillna(0) <= high
        keep(mask, f"year {low or ''}-{high or ''}", col)
    if filters.genres:
        got = _genres(df, path, Columns(genres=filters.genres_column), id_col="")
        if got is None:
            raise UserError(f"{path}: no genres column found; name it with --genres-column")
        lists, where = got
        wanted = {g.casefold() for g in filters.genres}
        mask = pd.Series([any(g.casefold() in wanted for g in gs) for gs in lists], index=df.index)
        keep(mask, f"genres any of {', '.join(filters.genres)}", where)
    return df, steps
