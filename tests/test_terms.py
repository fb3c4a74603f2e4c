"""The plot as TF-IDF genre scores: the graph module equals the fitted scores, training
movies get out-of-fold scores, and the fit is cached by content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from postergenre.features import terms
from postergenre.features.specs import FIELDS
from postergenre.features.specs.plot import PlotTerms

WORDS = {"Horror": "ghost haunted scream blood night terror",
         "Comedy": "laugh wedding funny mix-up party joke",
         "Drama": "family loss grief court letter silence"}


def plots(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        genre = list(WORDS)[i % 3]
        words = rng.choice(WORDS[genre].split(), 5).tolist() + rng.choice(
            " ".join(WORDS.values()).split(), 2).tolist()
        rows.append({"id": f"tt{i:04d}", "plot": " ".join(words) if i % 7 else None,
                     "genres": [genre], "part": "test" if i % 5 == 0 else f"fold{i // 3 % 3}"})
    out = pd.DataFrame(rows)
    out["train"] = out["part"] != "test"
    return out


def test_training_rows_are_out_of_fold_and_the_graph_scores_like_the_fit(tmp_path):
    rows = plots(90)
    source = PlotTerms()
    fitted = source.fit(rows, tmp_path)
    scores, mask, _ = source.make(fitted, rows, tmp_path, False, None)
    assert mask.tolist() == [i % 7 != 0 for i in range(90)] and not scores[~mask].any()
    genres = source.describe(fitted)["genres"]
    assert genres == ["Comedy", "Drama", "Horror"]
    truth = np.array([[g in gs for g in genres] for gs in rows["genres"]])
    assert (scores[mask].argmax(1) == truth[mask].argmax(1)).mean() > 0.9  # plots say it
    texts = [t if isinstance(t, str) else "" for t in rows["plot"]]
    module = source.graph_module(fitted)
    want_full = module.forward(torch.from_numpy(FIELDS["plot"].batch(
        [FIELDS["plot"].prepare(t) if t else FIELDS["plot"].absent() for t in texts]))).numpy()
    test = (rows["part"] == "test").to_numpy() & mask
    np.testing.assert_allclose(scores[test], want_full[test], atol=1e-4)  # test: the full fit
    train = rows["train"].to_numpy() & mask
    assert np.abs(scores[train] - want_full[train]).max() > 1e-3  # training: out of fold
    assert source.describe(fitted)["fitted_on_plots"] == int(train.sum())


@pytest.mark.parametrize("text", ["\U0001F600", "caf\u00e9 au lait", "x" * 100_000,
                                  "The Night. " * 3000])
def test_graph_equals_the_sparse_arithmetic_on_odd_texts(tmp_path, text):
    rows = plots(60)
    source = PlotTerms()
    module = source.graph_module(source.fit(rows, tmp_path))
    ids = FIELDS["plot"].prepare(text)
    got = module(torch.from_numpy(FIELDS["plot"].batch([ids])))[0].numpy()
    want = _sparse_scores(tmp_path, rows, [text])[0]
    np.testing.assert_allclose(got, want, atol=1e-4)


def _made(rows, cache):
    source = PlotTerms()
    return source.make(source.fit(rows, cache), rows, cache, False, None)


def _sparse_scores(cache, rows, texts):
    train = rows["train"] & rows["plot"].notna()
    got = terms.fit_cached(list(rows["plot"][train]), list(rows["genres"][train]),
                           list(rows["part"][train]), cache)
    assert got is not None
    return got[0].scores(terms.counts(texts))


def test_the_fit_is_cached_by_content(tmp_path, monkeypatch):
    rows = plots(60)
    first, _, _ = _made(rows, tmp_path)

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr(terms, "fit", no_fit)
    again, _, _ = _made(rows, tmp_path)
    np.testing.assert_array_equal(again, first)
    changed = rows.copy()
    changed.loc[1, "genres"] = ["Horror"]  # other labels: another fit
    with pytest.raises(AssertionError, match="fitted again"):
        _made(changed, tmp_path)


def test_too_few_plots_leave_the_input_out(tmp_path):
    rows = plots(6)
    scores, mask, _ = _made(rows, tmp_path)
    assert not mask.any()
