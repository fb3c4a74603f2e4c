"""Predicting genres with a bundle, for records or poster files.

A record is one movie: ``{"poster": ..., ...}`` with the fields the bundle declares
(``bundle.inputs``); a poster may be a path, bytes, a PIL image or a uint8 array. Values are
prepared in worker threads (decoding), run through the graph in batches, and results come
back in input order, unrounded; a record that cannot be used yields a ``Prediction`` with
``error`` and no probabilities. Poster files can also be scored by Ray tasks (``engine``).
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .bundle import Bundle, load_bundle
from .bundle.records import Prepared, RecordError, feeds, prepare, ranked
from .data.dataset import Columns, read_metadata
from .data.images import IMAGE_SUFFIXES
from .data.table import is_null
from .errors import UserError
from .features.engine import RayEngine
from .features.specs import FIELDS
from .features.text import MAX_TEXT_CHARS

ENGINE_CHUNK = 256  # posters per Ray task


@dataclass
class Prediction:
    source: str  # the file, or the record's label
    probabilities: dict[str, float] | None  # genre -> probability, highest first; None: error
    genres: list[str]  # the decided genres, highest first
    error: str | None = None
    inputs: list[str] | None = None  # the record fields the prediction used
    thresholds: dict[str, float] | None = None  # the rule of those inputs: genre -> cut-off
    rule: list[str] | None = None  # the optional inputs whose calibration and rule answered

    def to_json(self, digits: int | None = 4) -> dict:
        probs, cut = self.probabilities, self.thresholds
        if digits is not None:
            probs = None if probs is None else {g: round(p, digits) for g, p in probs.items()}
            cut = None if cut is None else {g: round(t, digits) for g, t in cut.items()}
        d = {"file": self.source, "probabilities": probs, "genres": self.genres,
             "inputs": self.inputs, "thresholds": cut, "rule": self.rule}
        if self.error:
            d["error"] = self.error
        return d


def expand_inputs(items: list[Path]) -> list[Path]:
    """Files as given, folders expanded to the images inside them (sorted)."""
    files: list[Path] = []
    for item in items:
        if item.is_dir():
            files += sorted(
                p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
        elif item.exists():
            files.append(item)
        else:
            raise UserError(f"{item}: no such file or folder")
    return files


def predict_files(bundle: Bundle, files: list[Path], batch_size: int = 8,
                  workers: int = 2, engine: RayEngine | None = None) -> Iterator[Prediction]:
    """``predict_records`` over poster files, each labelled by its path; with ``engine``,
    Ray tasks of ``ENGINE_CHUNK`` posters each open the bundle (at the same path) and score
    them. Results come back in input order either way."""
    if engine is not None:
        chunks = [[Path(f).absolute() for f in files[i:i + ENGINE_CHUNK]]
                  for i in range(0, len(files), ENGINE_CHUNK)]
        shared = (Path(bundle.path).absolute(), batch_size)
        done = (p for chunk in engine.imap(_predict_chunk, shared, chunks) for p in chunk)
        return (replace(p, source=str(f)) for f, p in zip(files, done, strict=True))
    return predict_records(bundle, ({"poster": f} for f in files), [str(f) for f in files],
                           batch_size, workers)


def _predict_chunk(shared: tuple[Path, int], files: list[Path]) -> list[Prediction]:
    path, batch_size = shared
    return list(predict_files(load_bundle(path), files, batch_size))


def file_records(files: list[Path], given: dict[str, Any], metadata: Path | None,
                 columns: Columns | None = None,
                 reads: Collection[str] | None = None) -> list[dict[str, Any]] | None:
    """Records for poster files with the metadata given for one poster (``given``: option ->
    value) or a table joined by id = file name stem (its columns found, or named by
    ``columns``); ``None`` when there is no metadata at all. Notes (warnings) say what is
    not read as given: rows merged, posters without a row, texts cut or not UTF-8, fields the
    model does not read (``reads``: the fields the bundle declares)."""
    given = {k: v for k, v in given.items() if v is not None}
    if given and (len(files) != 1 or metadata is not None):
        raise UserError(f"{', '.join('--' + k for k in given)}: for exactly one poster "
                        "(use --metadata TABLE for several)")
    if metadata is None and columns is not None and (columns.id or columns.fields):
        raise UserError("--id-column/--column: name the columns of a --metadata TABLE")
    notes = [f"--{k}: {why}" for k, v in given.items() if (why := _text_note(v))]
    if metadata is not None:
        table, notes = read_metadata(metadata, {f.stem for f in files}, columns)
        rows = [table.loc[f.stem].to_dict() if f.stem in table.index else {} for f in files]
        records = [{"poster": f, **{k: v for k, v in r.items() if not is_null(v)}}
                   for f, r in zip(files, rows, strict=True)]
        alone = [f for f, r in zip(files, records, strict=True) if len(r) == 1]
        if alone:
            notes.append(f"{metadata.name}: no row (or only empty cells) for {len(alone)} of "
                         f"{len(files)} posters (e.g. {alone[0].name}); they are answered "
                         "without metadata")
        odd = [f"{k} of {f.stem}: {why}" for f, r in zip(files, records, strict=True)
               for k, v in r.items() if (why := _text_note(v))]
        if odd:
            notes.append(f"{metadata.name}: {len(odd)} text(s) not read as written (e.g. "
                         f"{odd[0]})")
    elif given:
        records = [{"poster": files[0], **given}]
    else:
        return None
    unread = sorted({k for r in records for k in r if k != "poster"} - set(reads or FIELDS))
    if unread:
        notes.append(f"the model does not read {', '.join(unread)} (it reads "
                     f"{', '.join(reads or ())}); answers do not use them")
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return records


def _text_note(value: object) -> str | None:
    """Why a text value is not read as written (``features.text.clean``), or None."""
    if not isinstance(value, str):
        return None
    if len(value) > MAX_TEXT_CHARS:
        return f"{len(value):,} characters, of which the first {MAX_TEXT_CHARS:,} are read"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a command line's undecodable bytes, a JSON escape
        return "bytes that are not UTF-8 are read as U+FFFD"
    return None


def table_records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Records of a dataset's movies: the poster file and, where the table has them, title,
    year and plot (missing cells are left out)."""
    fields = [f for f in FIELDS if f != "poster" and f in rows]
    return [{"poster": row["path"], **{f: row[f] for f in fields if not is_null(row[f])}}
            for row in rows.to_dict("records")]


def predict_records(bundle: Bundle, records: Iterable[dict[str, Any]], labels: list[str],
                    batch_size: int = 8, workers: int = 2) -> Iterator[Prediction]:
    """One prediction per record, in order (``labels[i]`` names record ``i``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    inputs = bundle.inputs
    pending: list[tuple[str, Prepared | str]] = []  # (label, prepared record or error)
    ready = 0
    with ThreadPoolExecutor(workers) as pool:
        prepared = _ahead(pool, records, inputs, 4 * batch_size)
        for label, item in zip(labels, prepared, strict=True):
            pending.append((label, item))
            ready += not isinstance(item, str)
            if ready == batch_size:
                yield from _run(bundle, pending)
                pending, ready = [], 0
        yield from _run(bundle, pending)


def _prepare(record: dict[str, Any], inputs: list[dict]) -> Prepared | str:
    """The prepared record, or why it cannot be used."""
    try:
        return prepare(record, inputs)
    except RecordError as e:
        return str(e)


def _ahead(pool: ThreadPoolExecutor, records: Iterable[dict], inputs: list[dict],
           ahead: int) -> Iterator:
    """Prepared records in order, at most ``ahead`` in flight (bounded memory)."""
    pending: deque = deque()
    for record in records:
        pending.append(pool.submit(_prepare, record, inputs))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _run(bundle: Bundle, pending: list[tuple[str, Prepared | str]]) -> Iterator[Prediction]:
    good = [item for _, item in pending if not isinstance(item, str)]
    if good:
        probs, decided = bundle.answer(bundle.run(feeds([g.rows for g in good])),
                                       [g.used for g in good])
    k = 0
    for label, item in pending:
        if isinstance(item, str):
            yield Prediction(label, None, [], error=item)
            continue
        answer = ranked(bundle.genres, probs[k], decided[k])
        k += 1
        rule = bundle.rules.for_inputs(item.used)
        yield Prediction(label, {g: p for g, p, _ in answer}, [g for g, _, d in answer if d],
                         inputs=item.used, rule=list(rule.inputs),
                         thresholds=dict(zip(bundle.genres, map(float, rule.rule.thresholds),
                                             strict=True)))
