"""Reading label/metadata tables in the formats users have, and parsing genre cells.

Tables: CSV, TSV, Parquet, JSON lines (or a JSON array). Genres: ``A|B``, ``A, B``, a
Python/JSON list (of names or of ``{"key": .., "value": ..}`` dicts), ranked columns
(``Genre_1..N``) or one 0/1 column per genre. Genre names are normalised by ``normalise_genre``.
Metadata fields (title, year, plot, ...) are found by name or given (``metadata_columns``), and
the rows of an id merged by one rule, at train and at predict time (``one_row_per_id``).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd

from ..errors import UserError
from .fields import METADATA
from .images import IMAGE_SUFFIXES

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".ndjson", ".json")
ID_CANDIDATES = ("imdb_id", "id", "movie_id", "tconst", "imdbid", "poster_id", "image_id", "file")
GENRE_CANDIDATES = ("genres", "genre", "genrelist", "labels", "label", "tags")
TITLE_CANDIDATES = ("title", "primarytitle", "name", "movie_title")
YEAR_CANDIDATES = ("year", "release_year", "startyear")
PLOT_CANDIDATES = ("plot", "overview", "synopsis", "summary")
MISSING_CELLS = ("nan", "none", "null", "[]")  # a whole genre cell reading like this is empty
_RANKED = re.compile(r"^genre[_ ]?\d+$", re.IGNORECASE)
_SPLIT = re.compile(r"\s*[|,;/]\s*")
_EDGES = re.compile(r"^[\s'\"]+|[\s'\"]+$")
_HEAD_BYTES = 8192


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one table file; ``UserError`` naming the file if it can't be read, is not a table
    (a folder, binary content, not UTF-8) or is empty (no columns or no rows)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a table file")
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if suffix not in TABLE_SUFFIXES:
        raise UserError(f"{path}: unsupported table format {suffix!r} (use {TABLE_SUFFIXES})")
    try:
        df = _read(path, suffix)
    except UserError:
        raise
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except Exception as e:  # noqa: BLE001 - any parser error becomes a one-line message
        raise UserError(f"{path}: cannot read table: {str(e).splitlines()[0]}") from None
    if df.columns.empty:
        raise UserError(f"{path}: empty table (no columns)")
    if df.empty:
        raise UserError(f"{path}: empty table (a header but no rows)")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _read(path: Path, suffix: str) -> pd.DataFrame:
    if suffix == ".parquet":
        return pd.read_parquet(path)
    head = _text_head(path)
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    lines = suffix != ".json" or not head.lstrip().startswith("[")
    return pd.read_json(path, lines=lines, dtype=False)


def _text_head(path: Path) -> str:
    """The start of a text table; ``UserError`` if it is binary or UTF-16."""
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path}: UTF-16 text; save it as UTF-8")
    controls = sum(b < 32 and b not in b"\t\n\r\f" for b in head)
    if b"\0" in head or controls > len(head) // 20:
        raise UserError(f"{path}: not a table (binary content)")
    return head.decode("utf-8", errors="ignore")


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


def detect_id_column(
    df: pd.DataFrame, path: Path, given: str | None, known_ids: set[str]
) -> str | None:
    """``given`` if it exists, else the column whose values match most ``known_ids`` (image
    names), else the first column named like an id; None if there is none."""
    if given:
        return require_column(df, given, path, "--id-column")
    best, best_overlap = None, 0
    for col in df.columns:
        ids = {normalise_id(v) for v in df[col].head(5000)}
        overlap = len(ids & known_ids)
        if overlap > best_overlap:
            best, best_overlap = col, overlap
    return best or find_column(df, ID_CANDIDATES)


def metadata_columns(df: pd.DataFrame, fields: dict[str, str]) -> dict[str, str]:
    """The column each registered metadata field (``data.fields``) is read from: the one
    ``fields`` names for it (``--column FIELD=NAME``) where ``df`` has it, else the first of
    the field's own names that ``df`` has. ``UserError`` for a field no input reads."""
    unknown = set(fields) - set(METADATA)
    if unknown:
        raise UserError(f"no input reads a field {sorted(unknown)[0]!r}; fields: "
                        f"{', '.join(METADATA)}")
    found = {}
    for key, spec in METADATA.items():
        given = fields.get(key)
        if given:
            if given in df.columns:
                found[key] = given
        elif col := find_column(df, spec.columns):
            found[key] = col
    return found


def one_row_per_id(meta: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Metadata rows indexed by id as one row per id, whatever the row order: the rows of an
    id are merged field by field, empty cells aside, and a field they give different values
    is left empty for it; rows without an id are dropped. A note names the merges."""
    meta = meta[meta.index.notna()]
    twice = meta.index.duplicated(keep=False)
    if not twice.any():
        return meta, []
    merged: dict = {}
    clashes = []
    for id_, rows in meta[twice].groupby(level=0, sort=False):
        merged[id_] = {}
        for col in meta.columns:
            values = list({repr(v): v for v in rows[col] if not is_null(v)}.values())
            merged[id_][col] = values[0] if len(values) == 1 else None
            if len(values) > 1:
                clashes.append(f"{id_}: {col} {_short(values[0])} or {_short(values[1])}")
    out = pd.concat([meta[~twice], pd.DataFrame.from_dict(merged, orient="index",
                                                          columns=meta.columns)])
    note = f"{path.name}: {len(merged)} id(s) in several rows, merged field by field"
    if clashes:
        note += (f"; {len(clashes)} field(s) whose rows disagree are left out (e.g. "
                 f"{clashes[0]})")
    return out, [note]


def _short(value: object, most: int = 30) -> str:
    text = str(value)
    return repr(text if len(text) <= most else text[: most - 3] + "...")


def is_null(value: object) -> bool:
    """None, NaN or NA (not an empty list or string)."""
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def normalise_id(value: object) -> str | None:
    """An id as a string; file names lose their folder and suffix; empty → None."""
    if is_null(value):
        return None
    text = str(value).strip()
    if not text:
        return None
    name = Path(text).name
    return Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name


def normalise_genre(name: object) -> str:
    """A genre name without surrounding whitespace or quotes, inner whitespace as one space.

    Idempotent; case is kept (``vocab.merge_case_variants`` merges case variants).
    """
    return " ".join(_EDGES.sub("", str(name)).split())


def parse_genre_cell(value: object) -> list[str]:
    """Genre names in one cell, normalised, in order, de-duplicated; empty or missing → [].

    Never raises: text that is no list literal is split on ``| , ; /``.
    """
    if is_null(value):
        return []
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = value
    else:
        text = str(value).strip()
        if not text or text.lower() in MISSING_CELLS:
            return []
        items = _parse_list_literal(text) if text[0] in "[(" else _SPLIT.split(text)
    names = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("value") or item.get("name") or item.get("key")
        if item is None:
            continue
        name = normalise_genre(item)
        if name and name not in names:
            names.append(name)
    return names


def _parse_list_literal(text: str) -> list:
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
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
    """Genres per row from ranked columns or from 0/1 columns (named by the genre)."""
    if multi_hot:
        truthy = {"1", "1.0", "True", "true"}
        flags = df[columns].astype(str).apply(lambda s: s.str.strip().isin(truthy))
        return [parse_genre_cell([c for c in columns if row[c]]) for _, row in flags.iterrows()]
    return [
        parse_genre_cell([g for cell in row for g in parse_genre_cell(cell)])
        for row in df[columns].itertuples(index=False)
    ]
