"""A plot as TF-IDF of word and character n-grams, turned into per-genre scores by ridge.

Plots are long and specific ("a retired hitman", "haunted"): on the training part's plots a
linear model on TF-IDF of word 1-2-grams and character 3-5-grams beats one on MiniLM
embeddings (``benchmarks/bench_plot_text.py``), and so does the fused model that reads its
scores (docs/measurements.md). The n-grams are hashed (``HashingVectorizer``, MurmurHash3, words and
characters in separate halves of 2**20 buckets), so a text becomes term ids without a fitted
vocabulary: ``term_ids`` gives one int64 per distinct term, ``bucket * 1024 + count``. What
is fitted on the training plots, once per content of those plots, labels and folds, is
``TermScores``: which buckets are kept (in at least ``MIN_DF`` training plots), their idf,
and a ridge regression from the TF-IDF (sublinear counts, each half L2-normalised) to genre
scores. The model reads those scores; a training movie's scores come from the ridge fitted
without its CV fold (out of fold), a test movie's from the ridge fitted on every training plot,
which the bundle graph carries.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..atomic import write_bytes
from .ridge import fit_folds

BITS = 19  # buckets per half: words in [0, 2**19), characters in [2**19, 2**20)
BUCKETS = 2 << BITS
COUNT = 1024  # id = bucket * COUNT + min(count, COUNT - 1)
MIN_DF = 2
ALPHA = 1.0  # ridge penalty
MIN_POSITIVES = 3  # a genre is a ridge target with this many training plots
TERMS_REVISION = 2  # bump when fitted scores change for the same plots


@lru_cache(maxsize=1)
def _vectorizers():
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"n_features": 1 << BITS, "alternate_sign": False, "norm": None,
              "strip_accents": "unicode", "dtype": np.float32}
    return (HashingVectorizer(ngram_range=(1, 2), **common),
            HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common))


PREPROCESSING = {"terms": "word 1-2-grams and char_wb 3-5-grams, lowercased, accents stripped",
                 "hashing": f"HashingVectorizer, MurmurHash3, 2**{BITS} buckets each",
                 "id": f"bucket * {COUNT} + count"}


def hashing_version() -> str:
    """The scikit-learn whose hashing made the ids (recorded with each fit)."""
    import sklearn

    return sklearn.__version__


def counts(texts: list[str]) -> sp.csr_matrix:
    """(n, BUCKETS) term counts of ``clean`` texts."""
    words, chars = _vectorizers()
    return sp.hstack([words.transform(texts), chars.transform(texts)], format="csr")


def term_ids(text: str) -> np.ndarray:
    """The distinct terms of one ``clean`` text as sorted int64 ids (empty text: none)."""
    row = counts([text])
    return (row.indices.astype(np.int64) * COUNT
            + np.minimum(row.data, COUNT - 1).astype(np.int64))


def pad_ids(rows: list[np.ndarray]) -> np.ndarray:
    """Term id rows of any length -> one (n, longest) batch, 0 = padding."""
    out = np.zeros((len(rows), max([1, *(len(r) for r in rows)])), np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def example_ids(n: int, length: int = 40) -> torch.Tensor:
    """Random term ids for export checks: both halves, sorted, padded; row 0 empty."""
    gen = torch.Generator().manual_seed(n)
    buckets = torch.randint(0, BUCKETS, (n, length), generator=gen).sort(dim=1).values
    ids = buckets * COUNT + torch.randint(1, 4, (n, length), generator=gen)
    ids[:, length // 2:] = 0
    ids[0] = 0
    return ids


@dataclass
class Fitted:
    """What is fitted on the training plots: kept buckets, their idf, the ridge."""

    kept: np.ndarray  # (k,) int64 buckets, sorted
    idf: np.ndarray  # (k,) float32
    coef: np.ndarray  # (k, genres) float32
    intercept: np.ndarray  # (genres,) float32
    genres: list[str]

    def tfidf(self, c: sp.csr_matrix) -> sp.csr_matrix:
        """Counts -> TF-IDF over the kept buckets: (1 + log count) * idf, each half (words,
        characters) L2-normalised."""
        x = c[:, self.kept].tocsr().astype(np.float32)
        x.data = (1.0 + np.log(x.data)) * self.idf[x.indices]
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        half = rows * 2 + (self.kept[x.indices] >= 1 << BITS)
        norm = np.sqrt(np.bincount(half, weights=x.data.astype(np.float64) ** 2,
                                   minlength=2 * x.shape[0]))
        x.data /= np.maximum(norm, 1e-12)[half].astype(np.float32)
        return x

    def scores(self, c: sp.csr_matrix) -> np.ndarray:
        """(n, genres) ridge scores of term counts."""
        return np.asarray(self.tfidf(c) @ self.coef + self.intercept, np.float32)

    def describe(self, n_plots: int) -> dict:
        return {**PREPROCESSING, "sklearn": hashing_version(),
                "kept_terms": int(len(self.kept)), "min_df": MIN_DF,
                "idf": "log((1 + plots) / (1 + df)) + 1", "fitted_on_plots": n_plots,
                "ridge_alpha": ALPHA, "genres": self.genres,
                "training_rows": "out-of-fold: each CV fold's scores from the ridge fitted "
                                 "without it"}


def fit(c: sp.csr_matrix, y: np.ndarray, genres: list[str], folds: np.ndarray
        ) -> tuple[Fitted, np.ndarray]:
    """Fit on training plots' counts ``c`` and labels ``y``; also each row's out-of-fold
    scores (the ridge fitted on the other ``folds``)."""
    df = np.asarray((c > 0).sum(axis=0)).ravel()
    kept = np.flatnonzero(df >= MIN_DF).astype(np.int64)
    idf = (np.log((1 + c.shape[0]) / (1 + df[kept])) + 1).astype(np.float32)
    fitted = Fitted(kept, idf, np.zeros((len(kept), len(genres)), np.float32),
                    np.zeros(len(genres), np.float32), list(genres))
    fitted.coef, fitted.intercept, oof = fit_folds(fitted.tfidf(c), y, folds, ALPHA)
    return fitted, oof


def fit_cached(texts: list[str], labels: list[list[str]], folds: list[str],
               cache_dir: str | os.PathLike[str]) -> tuple[Fitted, np.ndarray] | None:
    """``fit`` on training plots (``clean`` texts, genre lists, CV folds), kept in
    ``<cache>/plot-terms`` by the content of all three: a second train fits nothing.
    ``None`` when no genre has ``MIN_POSITIVES`` plots or there is one fold only."""
    from safetensors import safe_open
    from safetensors.numpy import save

    if len(set(folds)) < 2:
        return None
    order = sorted(range(len(texts)), key=lambda i: (folds[i], texts[i], labels[i]))
    key = hashlib.sha256(json.dumps([TERMS_REVISION, BITS, MIN_DF, ALPHA, MIN_POSITIVES,
                                     PREPROCESSING["hashing"], hashing_version(),
                                     [(folds[i], texts[i], sorted(labels[i])) for i in order]]
                                    ).encode()).hexdigest()[:16]
    path = Path(cache_dir) / "plot-terms" / f"{key}.safetensors"
    if path.exists():
        with safe_open(str(path), "np") as f:
            genres = json.loads(f.metadata()["genres"])
            t = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
        oof = np.zeros_like(t["oof"])
        oof[order] = t["oof"]
        return Fitted(t["kept"], t["idf"], t["coef"], t["intercept"], genres), oof
    every = sorted({g for gs in labels for g in gs})
    y = np.array([[g in gs for g in every] for gs in labels], np.float32)
    genres = [g for g, n in zip(every, y.sum(axis=0), strict=True) if n >= MIN_POSITIVES]
    if not genres:
        return None
    y = y[:, [every.index(g) for g in genres]]
    fitted, oof = fit(counts(texts), y, genres, np.asarray(folds))
    write_bytes(path, save({"kept": fitted.kept, "idf": fitted.idf, "coef": fitted.coef,
                            "intercept": fitted.intercept, "oof": oof[order]},
                           metadata={"genres": json.dumps(genres)}))
    return fitted, oof


class TermScores(nn.Module):
    """Term ids (N, U) int64, 0 = padding -> the fitted ridge's genre scores (N, genres);
    the same arithmetic as ``Fitted.scores`` on the terms' counts."""

    # buffers: the fitted ridge's kept buckets, idf, word/character flags, weights
    column: torch.Tensor
    idf: torch.Tensor
    char: torch.Tensor
    coef: torch.Tensor
    intercept: torch.Tensor

    def __init__(self, fitted: Fitted):
        super().__init__()
        column = np.zeros(BUCKETS, np.int64)
        column[fitted.kept] = np.arange(1, len(fitted.kept) + 1)  # 0: a bucket not kept
        self.register_buffer("column", torch.from_numpy(column))
        self.register_buffer("idf", torch.from_numpy(np.concatenate([[0.0], fitted.idf])
                                                     .astype(np.float32)))
        self.register_buffer("char", torch.from_numpy(np.concatenate(
            [[0.0], fitted.kept >= 1 << BITS]).astype(np.float32)))
        self.register_buffer("coef", torch.from_numpy(np.concatenate(
            [np.zeros((1, len(fitted.genres)), np.float32), fitted.coef])))
        self.register_buffer("intercept", torch.from_numpy(fitted.intercept))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        bucket = torch.div(ids, COUNT, rounding_mode="floor")
        count = (ids - bucket * COUNT).float()
        col = self.column[bucket]
        v = torch.where(count > 0, 1 + torch.log(count.clamp(min=1.0)), 0.0) * self.idf[col]
        char, sq = self.char[col], v * v
        norm_c = (sq * char).sum(1, keepdim=True).sqrt().clamp(min=1e-12)
        norm_w = (sq * (1 - char)).sum(1, keepdim=True).sqrt().clamp(min=1e-12)
        x = v / torch.where(char > 0, norm_c, norm_w)
        return torch.bmm(x.unsqueeze(1), self.coef[col]).squeeze(1) + self.intercept
