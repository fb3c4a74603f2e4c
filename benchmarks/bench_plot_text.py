"""Which plot representation predicts genres better: MiniLM sentence embeddings or TF-IDF?

    python benchmarks/bench_plot_text.py ../shared/data/movie-posters --split runs/split.json

On the training part's movies that have a plot, 5-fold CV (fold k scored, the other training
folds fit; the test part is never read): the same one-vs-rest logistic regression
(liblinear) on (a) the cached MiniLM plot embeddings (first 256 word pieces), (b) TF-IDF of
word 1-2-grams plus character 3-5-grams (whole plot), (c) both side by side. Prints macro mAP
and micro AP per representation, mean ± std over the folds, and the seconds each took. Each
representation gets the regularisation (``C``) of its own small grid that scores best on
average, so neither is compared at a bad setting.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from results import write_results  # benchmarks/results.py
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

import postergenre.features.specs  # noqa: F401 - registers the dataset's metadata columns
from postergenre.data.dataset import load_dataset
from postergenre.data.splits import TEST, Split
from postergenre.data.vocab import build_vocabulary, multi_hot
from postergenre.features.specs.minilm import MiniLMText, text_field
from postergenre.features.text import clean


def tfidf(train_texts: list[str], texts: list[str]) -> sp.csr_matrix:
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=100_000,
                            sublinear_tf=True, strip_accents="unicode")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3,
                            max_features=150_000, sublinear_tf=True)
    words.fit(train_texts)
    chars.fit(train_texts)
    return sp.hstack([words.transform(texts), chars.transform(texts)]).tocsr()


def score(x_fit, y_fit, x_test, y_test, c: float) -> tuple[float, float]:
    model = OneVsRestClassifier(LogisticRegression(C=c, solver="liblinear", max_iter=1000))
    p = model.fit(x_fit, y_fit).predict_proba(x_test)
    cols = [j for j in range(y_test.shape[1]) if y_test[:, j].any()]
    macro = float(np.mean([average_precision_score(y_test[:, j], p[:, j]) for j in cols]))
    return macro, float(average_precision_score(y_test[:, cols], p[:, cols], average="micro"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--split", type=Path, required=True)
    ap.add_argument("--min-support", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5, help="CV rounds to run (fold k scored)")
    args = ap.parse_args()
    ds, split = load_dataset(args.data), Split.load(args.split)
    rows = ds.labelled[ds.labelled["id"].map(lambda i: split.parts.get(i, TEST) != TEST)]
    rows = rows[[bool(clean(p)) for p in rows["plot"]]].reset_index(drop=True)
    vocab = build_vocabulary(list(rows["genres"]), args.min_support)
    y = multi_hot(rows["genres"], vocab.genres)
    keep = y.any(axis=1)
    rows, y = rows[keep].reset_index(drop=True), y[keep]
    texts = [clean(p) for p in rows["plot"]]
    minilm, _, _ = MiniLMText(text_field("plot", 256), 256).make(None, rows, None, False, None)
    parts = np.array([split.parts[i] for i in rows["id"]])
    print(f"{len(rows)} training movies with a plot, {len(vocab.genres)} genres")
    grids = {"MiniLM": (0.01, 0.05, 0.25), "TF-IDF": (1.0, 4.0, 16.0), "both": (1.0, 4.0, 16.0)}
    results = {(name, c): [] for name, grid in grids.items() for c in grid}
    for k in range(min(args.rounds, split.folds)):
        test = parts == f"fold{k}"
        fit = ~test
        dense = StandardScaler().fit(minilm[fit]).transform(minilm)
        sparse = tfidf([t for t, f in zip(texts, fit, strict=True) if f], texts)
        made = {"MiniLM": dense, "TF-IDF": sparse,
                "both": sp.hstack([sparse, sp.csr_matrix(dense * 0.05)]).tocsr()}
        for (name, c), r in results.items():
            x = made[name]
            start = time.perf_counter()
            r.append((*score(x[fit], y[fit], x[test], y[test], c), time.perf_counter() - start))
        print(f"fold {k}: " + ", ".join(f"{n} C={c} {r[-1][0]:.3f}" for (n, c), r in
                                        results.items()), flush=True)
    print(f"\n{'plot as':<10}{'C':>7}{'macro mAP':>18}{'micro AP':>18}{'s / fold':>10}")
    table = []
    for (name, c), r in results.items():
        a = np.array(r)
        print(f"{name:<10}{c:>7g}{a[:, 0].mean():>11.3f} ± {a[:, 0].std():.3f}"
              f"{a[:, 1].mean():>11.3f} ± {a[:, 1].std():.3f}{a[:, 2].mean():>10.1f}")
        table.append({"plot as": name, "C": c, "macro mAP": a[:, 0].mean(),
                      "macro mAP std": a[:, 0].std(), "micro AP": a[:, 1].mean(),
                      "micro AP std": a[:, 1].std(), "s / fold": a[:, 2].mean(),
                      "per fold macro mAP": [float(v) for v in a[:, 0]]})
    write_results(Path(__file__).stem, {"movies with a plot": len(texts),
                                        "genres": len(vocab.genres), "representations": table})


if __name__ == "__main__":
    main()
