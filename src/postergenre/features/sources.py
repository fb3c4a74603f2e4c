"""Model inputs made from record fields: how each is made for training and inside the graph.

A source is one named model input, e.g. ``poster:efficientnet_lite0`` (the poster's Lite0
embedding), ``poster:pixels-200x200``, ``title:minilm`` or ``year:encoding``. It says which
record field it comes from, how ``make`` builds its rows for a table of movies (through the
cached producer, once per content), the torch module that makes the same thing from the
field's graph input inside the bundle graph, and what the bundle records about its
preprocessing (resolution, mean/std, tokenizer, ...). Optional sources (title, year, plot)
give a presence mask; a movie without them keeps its row. An int8 backbone's input is made
by an ONNX graph quantised on training posters (``quantize``): the bundle takes that very
graph (``graph_file``) in place of a torch module. The plot's TF-IDF scores are fitted on
the training plots. ``make`` reads which movies are training ones, and their CV fold, from the
``train`` and ``part`` columns of its rows, where it has them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from ..cache import default_cache_dir
from .backbones import BackboneFeatures, resolve
from .canvas import CANVAS_HW
from .embeddings import backbone_graph, embedding_producer
from .ocr import ocr_version, poster_texts
from .pixels import pixel_producer, resize_like_graph
from .producer import Engine, Producer, file_keys, produce, produce_files
from .quantize import calibration_set, check_precision
from .terms import TermScores, counts, fit_cached
from .text import DIM as TEXT_DIM
from .text import clean, graph_encoder, text_key, text_producer, text_version
from .year import DIM as YEAR_DIM
from .year import YearEncoding, encode, parse_year

PathLike = str | os.PathLike


# (movies with path/sha256/title/year/plot columns, cache dir, progress, engine)
#   -> (rows, presence mask, {file or id: why it is missing})
Make = Callable[[pd.DataFrame, "PathLike | None", bool, "Engine | None"],
                tuple[np.ndarray, np.ndarray, dict[str, str]]]


@dataclass(frozen=True)
class Source:
    name: str
    field: str  # the record field it is made from
    make: Make
    graph_module: Callable[[], nn.Module]  # the field's graph input -> this input
    preprocessing: dict
    required: bool = True  # a movie without it cannot be scored by a model that reads it
    # (cache dir, the rows it is for or None) -> the per-file cached producer
    producer: Callable[..., Producer] | None = None
    graph_file: Callable[[], Path] | None = None  # an ONNX graph used instead of graph_module


def _from_files(producer: Callable[..., Producer]) -> Make:
    def make(rows, cache_dir, progress=True, engine=None):
        paths = list(rows["path"])
        got, failed = produce_files(producer(cache_dir, rows), paths, list(rows["sha256"]),
                                    progress, engine)
        return _spread(got, [p not in failed for p in paths], {str(p): w for p, w
                                                                in failed.items()})

    return make


def _spread(got: np.ndarray | None, present: list[bool], failed: dict[str, str],
            shape: tuple[int, ...] = (), dtype=np.float32):
    """Rows for every movie: ``got`` where present, zeros elsewhere."""
    mask = np.array(present, bool)
    full = np.zeros((len(mask), *(got.shape[1:] if got is not None else shape)),
                    got.dtype if got is not None else dtype)
    if got is not None and len(got):
        full[mask] = got
    return full, mask, failed


class Embedding(nn.Module):
    """Canvas pixels -> a backbone's embedding, averaged with the mirror image's if ``tta``."""

    def __init__(self, backbone: str, tta: bool):
        super().__init__()
        self.backbone, self.tta = BackboneFeatures(backbone), tta

    def forward(self, pixels):
        emb = self.backbone(pixels)
        if self.tta:
            emb = (emb + self.backbone(pixels.flip(dims=[3]))) / 2
        return emb


class Resize(nn.Module):
    """Canvas pixels -> pixels at ``hw`` (the resize the pixel cache used)."""

    def __init__(self, hw: tuple[int, int]):
        super().__init__()
        self.hw = (int(hw[0]), int(hw[1]))

    def forward(self, pixels):
        return resize_like_graph(pixels, self.hw)


def embedding_source(backbone: str, tta: bool = False, precision: str = "fp32") -> Source:
    """A backbone's embedding of the poster; ``int8``: by its graph quantised on a seeded
    sample of the rows' training posters (made, and recorded, when ``make`` first runs)."""
    spec = resolve(backbone)
    name = f"poster:{spec.name}" + ("+flip" if tta else "") + ("@int8" if precision == "int8"
                                                                 else "")
    preprocessing = {"backbone": spec.to_dict(), "tta": tta, "precision": precision}
    if check_precision(precision) == "fp32":
        def producer(cache_dir, rows=None):
            return embedding_producer(spec, cache_dir, tta=tta)

        return Source(name=name, field="poster", make=_from_files(producer), producer=producer,
                      graph_module=lambda: Embedding(spec.name, tta), preprocessing=preprocessing)
    if tta:
        raise ValueError("test-time flipping is for fp32 backbones; drop tta or use fp32")
    made: dict = {}

    def calibrated(cache_dir, rows=None):
        if rows is None or "train" not in rows:
            raise ValueError(f"{name} calibrates on a split's training posters: `train` "
                             "makes it")
        train = rows[rows["train"].to_numpy(bool)]
        keys = file_keys(list(train["path"]), list(train["sha256"]), {})
        calibration = calibration_set(list(train["path"]), keys)
        made.update(calibration=calibration, cache_dir=cache_dir)
        preprocessing["calibration"] = calibration.describe()
        return embedding_producer(spec, cache_dir, calibration=calibration)  # quantises when
        # a poster first decodes

    def graph_file() -> Path:
        if "calibration" not in made:
            raise RuntimeError(f"{name}: make its rows first (that calibrates the graph)")
        return backbone_graph(spec, made["cache_dir"], made["calibration"])

    return Source(name=name, field="poster", make=_from_files(calibrated), producer=calibrated,
                  graph_module=lambda: Embedding(spec.name, tta), graph_file=graph_file,
                  preprocessing=preprocessing)


def pixel_source(hw: tuple[int, int] = CANVAS_HW) -> Source:
    h, w = int(hw[0]), int(hw[1])

    def producer(cache_dir, rows=None):
        return pixel_producer((h, w), cache_dir)

    return Source(
        name=f"poster:pixels-{h}x{w}",
        field="poster",
        make=_from_files(producer),
        producer=producer,
        graph_module=lambda: Resize((h, w)),
        preprocessing={"pixels_hw": [h, w], "resize": "bilinear, half-pixel centres"},
    )


def _text_rows(field: str, max_tokens: int, texts: list[str], cache_dir, progress: bool):
    """MiniLM rows of ``clean`` texts (cached per text); an empty text is absent."""
    keys = [text_key(t, max_tokens) if t else None for t in texts]
    got, failed = produce(text_producer(field, max_tokens, cache_dir), keys, texts, progress)
    present = [k is not None and i not in failed for i, k in enumerate(keys)]
    return _spread(got, present, {}, (TEXT_DIM,))


def _text_preprocessing(max_tokens: int) -> dict:
    return {"encoder": "all-MiniLM-L6-v2", "version": text_version(), "max_tokens": max_tokens}


def text_source(field: str, max_tokens: int) -> Source:
    """MiniLM embedding of a text column (``title``; any text column), cached per text."""

    def make(rows, cache_dir, progress=True, engine=None):
        column = rows[field] if field in rows else [None] * len(rows)
        return _text_rows(field, max_tokens, [clean(v) for v in column], cache_dir, progress)

    return Source(name=f"{field}:minilm", field=field, make=make, graph_module=graph_encoder,
                  preprocessing=_text_preprocessing(max_tokens), required=False)


def plot_terms_source() -> Source:
    """The plot's TF-IDF genre scores (``terms``): fitted on the rows' training plots (the
    ``train``, ``part`` and ``genres`` columns), out of fold for training movies."""
    made: dict = {}
    preprocessing: dict = {}

    def make(rows, cache_dir, progress=True, engine=None):
        if not {"train", "part", "genres"} <= set(rows):
            raise ValueError("plot:tfidf fits on a split's training plots: `train` makes it")
        column = rows["plot"] if "plot" in rows else [None] * len(rows)
        texts = [clean(v) for v in column]
        has = np.array([bool(t) for t in texts])
        train = rows["train"].to_numpy(bool)
        at = np.flatnonzero(has & train)
        got = fit_cached([texts[i] for i in at], [list(rows["genres"].iloc[i]) for i in at],
                         [rows["part"].iloc[i] for i in at],
                         cache_dir if cache_dir is not None else default_cache_dir())
        if got is None:  # too few training plots to fit: no movie has this input
            return _spread(None, [False] * len(rows), {}, (0,))
        fitted, oof = got
        scores = np.zeros((len(rows), len(fitted.genres)), np.float32)
        scores[at] = oof
        other = np.flatnonzero(has & ~train)
        if len(other):
            scores[other] = fitted.scores(counts([texts[i] for i in other]))
        made["fitted"] = fitted
        preprocessing.update(fitted.describe(len(at)))
        return scores, has, {}

    def graph_module():
        if "fitted" not in made:
            raise RuntimeError("plot:tfidf: make its rows first (that fits it)")
        return TermScores(made["fitted"])

    return Source(name="plot:tfidf", field="plot", make=make, graph_module=graph_module,
                  preprocessing=preprocessing, required=False)


def ocr_source(max_tokens: int = 64) -> Source:
    """MiniLM embedding of the text printed on the poster: read by OCR once per poster
    content (in worker processes), then encoded once per text; no text is absent."""

    def make(rows, cache_dir, progress=True, engine=None):
        texts, _ = poster_texts(list(rows["path"]), list(rows["sha256"]), cache_dir,
                                progress=progress)  # an unreadable poster: the poster's say
        return _text_rows("ocr", max_tokens, texts, cache_dir, progress)

    return Source(name="ocr:minilm", field="ocr", make=make, graph_module=graph_encoder,
                  preprocessing={**_text_preprocessing(max_tokens), "ocr": ocr_version()},
                  required=False)


def year_source() -> Source:
    """The year's smooth encoding (``year.encode``); absurd years are missing, with a reason."""

    def make(rows, cache_dir=None, progress=True, engine=None):
        column = rows["year"] if "year" in rows else [None] * len(rows)
        parsed = [parse_year(v) for v in column]
        years = np.array([y for y, _ in parsed], np.float32)
        why = {str(i): w for i, (_, w) in zip(rows["id"], parsed, strict=True) if w}
        return encode(years), years > 0, why

    return Source(name="year:encoding", field="year", make=make, graph_module=YearEncoding,
                  preprocessing={"encoding": "decade bumps 1910-2030 (width 8) + linear",
                                 "dim": YEAR_DIM}, required=False)
