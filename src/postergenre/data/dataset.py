"""The poster dataset: a folder of images plus tables, normalised to one table.

``load_dataset`` finds the images (named by id), the label table and optional metadata tables,
detects their columns (or takes them from the caller), and returns a ``Dataset`` whose
``frame`` has one row per id: ``id, path, sha256, genres`` and one column per registered metadata
field (``data.fields``: title, year, plot, ...). Genre names are
normalised, case variants merged and rows of one id united; ``Dataset.notes`` lists each merge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UserError
from . import table as T
from .fields import METADATA
from .images import IMAGE_SUFFIXES, ImageError, content_hash, read_file
from .vocab import merge_case_variants


@dataclass
class Columns:
    """Column choices; ``None`` means detect."""

    id: str | None = None
    genres: str | None = None
    genre_columns: list[str] | None = None
    fields: dict[str, str] = field(default_factory=dict)  # metadata field -> its column


@dataclass
class Dataset:
    root: Path
    frame: pd.DataFrame  # id, path, sha256, genres (list | None), then metadata fields
    labels_without_images: list[str]
    sources: dict  # which files and columns were used
    notes: list[str] = field(default_factory=list)  # merges and skips, for people to read

    @property
    def labelled(self) -> pd.DataFrame:
        """Rows with an image and a genres entry (possibly an empty list)."""
        return self.frame[self.frame["genres"].notna()]

    @property
    def unlabelled_ids(self) -> list[str]:
        return self.frame.loc[self.frame["genres"].isna(), "id"].tolist()

    def fingerprint(self) -> str:
        """Hash of (id, content hash, genres) of the labelled rows: what a split depends on."""
        h = hashlib.sha256()
        for row in self.labelled.sort_values("id").itertuples():
            h.update(f"{row.id}\t{row.sha256}\t{'|'.join(sorted(row.genres))}\n".encode())
        return h.hexdigest()[:16]


def find_images(root: Path) -> tuple[dict[str, Path], list[str]]:
    """Image files under ``root`` by id (file stem); notes about ids seen twice."""
    images: dict[str, Path] = {}
    notes = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        if not path.is_file():
            continue
        if path.stem in images:
            notes.append(
                f"id {path.stem}: several files, using {images[path.stem]}, ignoring {path}"
            )
            continue
        images[path.stem] = path
    return images, notes


def find_tables(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in T.TABLE_SUFFIXES)


def _genres(df: pd.DataFrame, path: Path, cols: Columns, id_col: str) -> tuple[list, str] | None:
    """Genre lists per row and a description of where they came from, or None."""
    if cols.genre_columns:
        for c in cols.genre_columns:
            T.require_column(df, c, path, "--genre-columns")
        multi_hot = (set(T.multi_hot_columns(df[cols.genre_columns], exclude=set()))
                     == set(cols.genre_columns))
        kind = "0/1 columns" if multi_hot else "ranked columns"
        return T.genres_from_columns(df, cols.genre_columns, multi_hot), kind
    col = cols.genres
    if col:
        T.require_column(df, col, path, "--genres-column")
    else:
        col = T.find_column(df, T.GENRE_CANDIDATES)
    if col:
        return [T.parse_genre_cell(v) for v in df[col]], f"column {col!r}"
    ranked = T.ranked_genre_columns(df)
    if ranked:
        return T.genres_from_columns(df, ranked, multi_hot=False), f"columns {ranked}"
    hot = T.multi_hot_columns(df, exclude={id_col})
    if len(hot) >= 2:
        return T.genres_from_columns(df, hot, multi_hot=True), f"0/1 columns {hot}"
    return None


def load_dataset(
    root: str | Path,
    labels: str | Path | None = None,
    metadata: Sequence[str | Path] | None = None,
    images: str | Path | None = None,
    columns: Columns | None = None,
    hash_contents: bool = True,
) -> Dataset:
    """Read a dataset folder (or explicit files) into a normalised ``Dataset``."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    cols = columns or Columns()
    image_dir = Path(images) if images else root
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: no such image folder")
    image_paths, notes = find_images(image_dir)
    image_ids = set(image_paths)

    table_paths = [Path(labels)] if labels else find_tables(root)
    table_paths += [Path(m) for m in metadata or []]
    if not table_paths:
        raise UserError(f"{root}: no table (CSV/TSV/Parquet/JSON lines) with genres found")

    genre_map: dict[str, list[str]] | None = None
    meta_frames = []
    sources: dict = {"images": str(image_dir), "tables": []}
    for i, path in enumerate(table_paths):
        df = T.read_table(path)
        explicit_labels = labels is not None and i == 0
        id_col = T.detect_id_column(df, path, cols.id, image_ids)
        if id_col is None:
            if explicit_labels or cols.id or _genres(df, path, cols, "") is not None:
                raise UserError(f"{path}: no id column found; name it with --id-column")
            notes.append(f"{path.name}: skipped (no id column)")
            continue
        ids = [T.normalise_id(v) for v in df[id_col]]
        info: dict[str, Any] = {"file": str(path), "id_column": id_col}
        got = _genres(df, path, cols, id_col) if genre_map is None else None
        if got is not None:
            genre_lists, info["genres"] = got
            genre_map, repeats = _genres_by_id(path, ids, genre_lists, notes)
            info["identical_duplicate_rows"] = repeats
            if image_ids and not genre_map.keys() & image_ids:
                raise UserError(
                    f"{path}: none of its {len(genre_map)} ids matches an image file name in "
                    f"{image_dir} (ids like {_examples(genre_map)}; files like "
                    f"{_examples(image_ids)})"
                )
        elif explicit_labels:
            raise UserError(f"{path}: no genres column found; name it with --genres-column")
        meta = T.metadata_columns(df, cols.fields)
        if meta:
            m = pd.DataFrame({k: df[c].to_numpy() for k, c in meta.items()}, index=ids)
            m, merged = T.one_row_per_id(m, path)
            meta_frames.append(m)
            notes += merged
            info["metadata"] = meta
        sources["tables"].append(info)
    if genre_map is None:
        raise UserError(
            f"{root}: no table with a genres column; name it with --labels/--genres-column"
        )
    if not image_ids:
        raise UserError(f"{image_dir}: no image files (none named as a format Pillow reads: "
                        ".jpg, .png, .webp, .avif, ...)")

    frame = pd.DataFrame({"id": sorted(image_ids)})
    frame["path"] = [image_paths[i] for i in frame["id"]]
    frame["genres"] = [genre_map.get(i) for i in frame["id"]]
    for key in METADATA:
        frame[key] = None
    for m in meta_frames:
        for key in m.columns:
            values = frame["id"].map(m[key])
            frame[key] = frame[key].where(frame[key].notna(), values)
    for spec in METADATA.values():
        if spec.numeric:
            frame[spec.name] = pd.to_numeric(frame[spec.name], errors="coerce").astype("Int64")
    frame["sha256"] = hash_files(list(frame["path"])) if hash_contents else None
    without = sorted(set(genre_map) - image_ids)
    return Dataset(root, frame, without, sources, notes)


def _genres_by_id(
    path: Path, ids: list[str | None], genre_lists: list[list[str]], notes: list[str]
) -> tuple[dict[str, list[str]], int]:
    """Genres per id and the number of identical duplicate rows (dropped silently).

    Case variants of a name are merged (``merge_case_variants``); rows of one id with different
    genres are united. Both get a note.
    """
    lists, merges = merge_case_variants(genre_lists)
    for kept, others in merges.items():
        spelled = ", ".join(repr(o) for o in others)
        notes.append(f"{path.name}: genre {spelled} merged into {kept!r} (same name, other case)")
    rows: dict[str, dict[frozenset, list[str]]] = {}
    for id_, names in zip(ids, lists, strict=True):
        if id_ is not None:
            rows.setdefault(id_, {}).setdefault(frozenset(names), names)
    identical = sum(i is not None for i in ids) - sum(len(r) for r in rows.values())
    mixed = [i for i, r in rows.items() if len(r) > 1]
    if mixed:
        example = " + ".join("|".join(n) or "(none)" for n in rows[mixed[0]].values())
        notes.append(
            f"{path.name}: {len(mixed)} id(s) in several rows with different genres; "
            f"genres united (e.g. {mixed[0]}: {example})"
        )
    merged = {
        i: list(dict.fromkeys(g for names in r.values() for g in names)) for i, r in rows.items()
    }
    return merged, identical


def _examples(ids, n: int = 3) -> str:
    return ", ".join(sorted(ids)[:n])


def hash_files(paths: list[Path], workers: int = 8) -> list[str | None]:
    """sha256 of each file's bytes (None if unreadable); threads overlap the I/O."""

    def one(p: Path) -> str | None:
        try:
            return content_hash(read_file(p))
        except (OSError, ImageError):  # unreadable, not a regular file or too large
            return None

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, paths, chunksize=64))


def read_metadata(path: Path, ids: set[str],
                  columns: Columns | None = None) -> tuple[pd.DataFrame, list[str]]:
    """A table of the metadata fields indexed by id, one row per id (``one_row_per_id``), and
    notes on it. ``UserError`` naming the file if it has no id column, none of its ids is one
    of ``ids`` (e.g. poster file stems), it has no column of any metadata field, or lacks a
    column ``columns`` names."""
    cols = columns or Columns()
    df = T.read_table(path)
    id_col = T.detect_id_column(df, path, cols.id, ids)
    if id_col is None:
        raise UserError(f"{path}: no id column found (name it with --id-column)")
    for key, name in cols.fields.items():
        T.require_column(df, name, path, f"--column {key}={name}")
    table_ids = [T.normalise_id(v) for v in df[id_col]]
    if not set(table_ids) & ids:
        raise UserError(f"{path}: none of its {len(table_ids)} ids matches a poster file name "
                        f"(ids like {_examples(table_ids)}; files like {_examples(sorted(ids))})")
    meta = T.metadata_columns(df, cols.fields)
    if not meta:
        raise UserError(f"{path}: no column of {', '.join(METADATA)} (columns: "
                        f"{', '.join(df.columns)}); name one with --column FIELD=NAME")
    out = pd.DataFrame({key: df[col].to_numpy() for key, col in meta.items()}, index=table_ids)
    return T.one_row_per_id(out, path)
