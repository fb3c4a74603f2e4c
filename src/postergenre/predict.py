"""Predicting genres with a bundle, for records or poster files.

A record is one movie: ``{"poster": ..., ...}`` with the fields the bundle declares
(``bundle.inputs``); a poster may be a path, bytes, a PIL image or a uint8 array. Values are
prepared in worker threads (decoding), run through the graph in batches, and results come
back in input order, unrounded; a record that cannot be used yields a ``Prediction`` with
``error`` and no probabilities.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import Bundle
from .data.images import IMAGE_SUFFIXES, ImageError
from .errors import UserError
from .features.fields import FIELDS


@dataclass
class Prediction:
    source: str  # the file, or the record's label
    probabilities: dict[str, float] | None  # genre -> probability, highest first; None: error
    genres: list[str]  # the decided genres, highest first
    error: str | None = None

    def to_json(self, digits: int | None = 4) -> dict:
        probs = self.probabilities
        if probs is not None and digits is not None:
            probs = {g: round(p, digits) for g, p in probs.items()}
        d = {"file": self.source, "probabilities": probs, "genres": self.genres}
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
                  workers: int = 2) -> Iterator[Prediction]:
    """``predict_records`` over poster files, each labelled by its path."""
    return predict_records(bundle, ({"poster": f} for f in files), [str(f) for f in files],
                           batch_size, workers)


def predict_records(bundle: Bundle, records: Iterable[dict[str, Any]], labels: list[str],
                    batch_size: int = 8, workers: int = 2) -> Iterator[Prediction]:
    """One prediction per record, in order (``labels[i]`` names record ``i``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    inputs = bundle.inputs
    pending: list[tuple[str, dict | str]] = []  # (label, prepared feeds or error), in order
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


def _prepare(record: dict[str, Any], inputs: list[dict]) -> dict[str, np.ndarray] | str:
    """One row per declared input, or why the record cannot be used."""
    rows = {}
    for spec in inputs:
        value = record.get(spec["name"])
        if value is None:
            return f"no {spec['name']} given"
        try:
            rows[spec["name"]] = FIELDS[spec["name"]].prepare(value)
        except (ImageError, ValueError, OSError) as e:
            return str(e)
    return rows


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


def _run(bundle: Bundle, pending: list[tuple[str, dict | str]]) -> Iterator[Prediction]:
    good = [rows for _, rows in pending if not isinstance(rows, str)]
    if good:
        feeds = {name: FIELDS[name].batch([rows[name] for rows in good]) for name in good[0]}
        probs = bundle.run(feeds)
        decided = bundle.rule.apply(probs)
    genres, k = bundle.genres, 0
    for label, rows in pending:
        if isinstance(rows, str):
            yield Prediction(label, None, [], error=rows)
            continue
        p, d = probs[k], decided[k]
        k += 1
        order = np.argsort(-p, kind="stable")
        yield Prediction(label, {genres[j]: float(p[j]) for j in order},
                         [genres[j] for j in order if d[j]])
