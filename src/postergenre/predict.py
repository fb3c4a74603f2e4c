"""Predicting genres for poster files with a bundle: decode in threads, infer in batches."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bundle import Bundle
from .data.images import IMAGE_SUFFIXES, ImageError
from .errors import UserError
from .evaluation.thresholds import apply_thresholds
from .features.canvas import load_canvas, to_batch


@dataclass
class Prediction:
    file: str
    probabilities: dict[str, float] | None  # None when the file could not be read
    genres: list[str]
    error: str | None = None

    def to_json(self) -> dict:
        d = {"file": self.file, "probabilities": self.probabilities, "genres": self.genres}
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


def _load(path: Path) -> np.ndarray | str:
    try:
        return load_canvas(path)
    except ImageError as e:
        return str(e)


def predict_files(
    bundle: Bundle, files: list[Path], batch_size: int = 8, workers: int = 2
) -> Iterator[Prediction]:
    """Predictions in input order; unreadable files yield a Prediction with ``error``."""
    genres, thresholds = bundle.genres, bundle.thresholds
    rule = bundle.meta.get("decision", {})
    at_least_one, max_genres = bool(rule.get("at_least_one", True)), rule.get("max_genres")
    with ThreadPoolExecutor(workers) as pool:
        decoded = _prefetch(pool, files, ahead=4 * batch_size)
        batch: list[tuple[Path, np.ndarray]] = []
        for path, item in zip(files, decoded, strict=True):
            if isinstance(item, str):
                yield Prediction(str(path), None, [], error=item)
                continue
            batch.append((path, item))
            if len(batch) == batch_size:
                yield from _run(bundle, batch, genres, thresholds, at_least_one, max_genres)
                batch = []
        if batch:
            yield from _run(bundle, batch, genres, thresholds, at_least_one, max_genres)


def _prefetch(pool: ThreadPoolExecutor, files: list[Path], ahead: int) -> Iterator:
    """Decoded canvases in order, at most ``ahead`` decodes in flight (bounded memory)."""
    pending = deque()
    for path in files:
        pending.append(pool.submit(_load, path))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _run(bundle, batch, genres, thresholds, at_least_one, max_genres) -> Iterator[Prediction]:
    probs = bundle.run(to_batch([a for _, a in batch]))
    pred = apply_thresholds(probs, thresholds, at_least_one=at_least_one, max_genres=max_genres)
    for (path, _), p, d in zip(batch, probs, pred, strict=True):
        order = np.argsort(-p)
        yield Prediction(
            str(path),
            {genres[j]: round(float(p[j]), 4) for j in order},
            [genres[j] for j in order if d[j]],
        )
