"""Reading label/metadata tables in the formats users have, and parsing genre cells.

Tables: CSV, TSV, Parquet, JSON lines (or a JSON array). Genres: ``A|B``, ``A, B``, a
Python/JSON list (of names or of ``{"key": .., "value": ..}`` dicts), ranked columns
(``Genre_1..N``) or one 0/1 column per genre.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import pandas as pd

from ..errors import UserError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".ndjson", ".json")
ID_CANDIDATES = ("imdb_id", "id", "movie_id", "tconst", "imdbid", "poster_id", "image_id", "file")
GENRE_CANDIDATES = ("genres", "genre", "genrelist", "labels", "label", "tags")
TITLE_CANDIDATES = ("title", "primarytitle", "name", "movie_title")
YEAR_CANDIDATES = ("year", "release_year", "startyear")
PLOT_CANDIDATES = ("plot", "overview", "synopsis", "summary")
_RANKED = re.compile(r"^genre[_ ]?\d+$", re.IGNORECASE)
_SPLIT = re.compile(r"\s*[|,;/]\s*")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one table file; ``UserError`` naming the file if it can't be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        elif suffix == ".tsv":
            df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
        elif suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson"):
            df = pd.read_json(path, lines=True, dtype=False)
        elif suffix == ".json":
            text = path.read_text(encoding="utf-8").lstrip()
            df = pd.read_json(path, lines=not text.startswith("["), dtype=False)
        else:
            raise UserError(f"{path}: unsupported table format {suffix!r} (use {TABLE_SUFFIXES})")
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - any parser error becomes a one-line message
        raise UserError(f"{path}: cannot read table: {str(e).splitlines()[0]}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def find_column(df: pd.DataFrame, candidates: tuple[str, ...]) -> str | None:
    """The first column whose lower-cased name is one of ``candidates``."""
    by_lower = {c.lower(): c for c in df.columns}
    for name in candidates:
        if name in by_lower:
            return by_lower[name]
    return None


def require_column(df: pd.DataFrame, name: str, path: Path, flag: str) -> str:
    if name not in df.columns:
        raise UserError(
            f"{path}: no column {name!r} (given by {flag}); columns are: {', '.join(df.columns)}"
        )
    return name


def normalise_id(value: object) -> str | None:
    """An id as a string; file names lose their folder and suffix; empty → None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    name = Path(text).name
    return Path(name).stem if Path(name).suffix.lower() in _IMAGE_LIKE else name


_IMAGE_LIKE = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def parse_genre_cell(value: object) -> list[str]:
    """Genre names in one cell, in order, de-duplicated; empty or missing → []."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = value
    else:
        text = str(value).strip()
        if not text or text.lower() in ("nan", "none", "null", "[]"):
            return []
        items = _parse_list_literal(text) if text[0] in "[(" else _SPLIT.split(text)
    names = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("value") or item.get("name") or item.get("key")
        if item is None:
            continue
        name = str(item).strip().strip("'\"")
        if name and name not in names:
            names.append(name)
    return names


def _parse_list_literal(text: str) -> list:
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(text)
        except (ValueError, SyntaxError, json.JSONDecodeError):
            continue
        if isinstance(parsed, (list, tuple)):
            return list(parsed)
    return _SPLIT.split(text.strip("[]()"))


def ranked_genre_columns(df: pd.DataFrame) -> list[str]:
    """Columns like ``Genre_1, Genre_2, ...`` (one genre name per column)."""
    return sorted((c for c in df.columns if _RANKED.match(c)), key=lambda c: int(c[6:].strip("_ ")))


def multi_hot_columns(df: pd.DataFrame, exclude: set[str]) -> list[str]:
    """Columns that hold only 0/1 values (one column per genre)."""
    cols = []
    for c in df.columns:
        if c in exclude:
            continue
        values = set(df[c].dropna().astype(str).str.strip().unique())
        if values and values <= {"0", "1", "0.0", "1.0", "True", "False", "true", "false"}:
            cols.append(c)
    return cols


def genres_from_columns(df: pd.DataFrame, columns: list[str], multi_hot: bool) -> list[list[str]]:
    """Genres per row from ranked columns or from 0/1 columns."""
    if multi_hot:
        truthy = {"1", "1.0", "True", "true"}
        flags = df[columns].astype(str).apply(lambda s: s.str.strip().isin(truthy))
        return [[c for c in columns if row[c]] for _, row in flags.iterrows()]
    out = []
    for row in df[columns].itertuples(index=False):
        names = []
        for cell in row:
            for name in parse_genre_cell(cell):
                if name not in names:
                    names.append(name)
        out.append(names)
    return out
