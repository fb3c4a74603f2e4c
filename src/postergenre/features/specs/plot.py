"""The plot: an optional text, read as TF-IDF genre scores (``plot:tfidf``, ``features.terms``).

The ridge from n-grams to genre scores is fitted on the training rows' plots (``fit``); a
training movie's scores are out of fold (the ridge fitted without its CV fold), any other
movie's come from the ridge fitted on every training plot, which the bundle graph carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from ..producer import Engine
from ..terms import PREPROCESSING, Fitted, TermScores, counts, example_ids, fit_cached, pad_ids
from ..terms import term_ids as _term_ids
from ..text import clean
from .base import Field, InputSpec, Made, PathLike, column, spread


def plot_terms(value: Any) -> np.ndarray | None:
    text = clean(value)
    return _term_ids(text) if text else None


PLOT = Field(name="plot", type="terms", prepare=plot_terms, batch=pad_ids, example=example_ids,
             absent=lambda: np.zeros(1, np.int64),
             present=lambda ids: (ids[:, 0] != 0).float(),
             columns=("plot", "overview", "synopsis", "summary"),
             help="The movie's plot or synopsis.", axes={1: "plot_terms"},
             preprocessing={**PREPROCESSING, "text": "NFC, whitespace collapsed", "pad_id": 0})


@dataclass(frozen=True)
class FittedPlot:
    """The ridge fitted on the training plots, and those movies' out-of-fold scores."""

    terms: Fitted
    oof: dict[str, np.ndarray]  # training movie id -> its out-of-fold scores
    n_plots: int


@dataclass(frozen=True)
class PlotTerms(InputSpec):
    """The plot's TF-IDF genre scores."""

    name = "plot:tfidf"
    field = PLOT

    def fit(self, rows: pd.DataFrame, cache_dir: PathLike) -> FittedPlot | None:
        """The ridge on the training rows' plots (``None``: too few plots to fit)."""
        if not {"train", "part", "genres"} <= set(rows):
            raise ValueError("plot:tfidf fits on a split's training plots: `train` makes it")
        texts = [clean(v) for v in column(rows, "plot")]
        at = [i for i, (t, train) in enumerate(zip(texts, rows["train"], strict=True))
              if t and train]
        got = fit_cached([texts[i] for i in at], [list(rows["genres"].iloc[i]) for i in at],
                         [rows["part"].iloc[i] for i in at], cache_dir)
        if got is None:
            return None
        fitted, oof = got
        oof.setflags(write=False)
        return FittedPlot(fitted, {rows["id"].iloc[i]: oof[k] for k, i in enumerate(at)},
                          len(at))

    def make(self, fitted: FittedPlot | None, rows: pd.DataFrame, cache_dir: PathLike,
             progress: bool = True, engine: Engine | None = None) -> Made:
        if fitted is None:  # nothing to score with: no movie has this input
            return spread(None, [False] * len(rows), {}, (0,))
        texts = [clean(v) for v in column(rows, "plot")]
        scores = np.zeros((len(rows), len(fitted.terms.genres)), np.float32)
        other = []
        for i, (movie, text) in enumerate(zip(rows["id"], texts, strict=True)):
            if text and movie in fitted.oof:
                scores[i] = fitted.oof[movie]
            elif text:
                other.append(i)
        if other:
            scores[other] = fitted.terms.scores(counts([texts[i] for i in other]))
        return scores, np.array([bool(t) for t in texts]), {}

    def graph_module(self, fitted: FittedPlot | None) -> nn.Module:
        if fitted is None:
            raise ValueError("plot:tfidf was not fitted (no training plots)")
        return TermScores(fitted.terms)

    def describe(self, fitted: FittedPlot | None) -> dict:
        return fitted.terms.describe(fitted.n_plots) if fitted is not None else {}


def tfidf() -> PlotTerms:
    return PlotTerms()
