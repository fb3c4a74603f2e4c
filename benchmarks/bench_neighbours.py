"""Does a k-nearest-neighbour vote over the training posters help the default model's scores?

    python benchmarks/bench_neighbours.py ../shared/data/movie-posters --split runs/split.json

The experiment behind ``models.neighbours`` (which ``train`` now runs by default, with PCA
in front of the comparison). Cross-validates the default fused model without its vote on the
training part (as ``train`` does, from the cache), then blends each movie's scores with a
vote of its k nearest training posters: ``(1 - w) * scores + w * vote``. The posters are
compared by their cached backbone embeddings (each backbone's L2-normalised, concatenated
and normalised again, cosine similarity); the vote is each genre's share among the
neighbours, weighted by ``softmax((similarity - 1) / tau)``. Fold k's neighbours come from
the other training folds only. Two input sets: every movie as a bare poster (the optional
inputs withheld) and with everything it has. k, tau and w are chosen by the CV macro mAP;
the test part is scored once at the chosen setting (the fold models averaged, neighbours
from the whole training part).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
from results import write_results  # benchmarks/results.py

from postergenre.cache import default_cache_dir
from postergenre.data.dataset import load_dataset
from postergenre.data.splits import TEST, Split
from postergenre.data.vocab import build_vocabulary
from postergenre.features.specs import BackboneEmbedding
from postergenre.models.base import macro_ap as macro_map
from postergenre.models.ensemble import FoldEnsemble
from postergenre.training import TrainConfig
from postergenre.training.ablation import withhold
from postergenre.training.cv import cross_validate
from postergenre.training.inputs import load_inputs

MAX_K = 100


def neighbours(x: np.ndarray, query: np.ndarray, pool: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The ``MAX_K`` most similar ``pool`` rows of each ``query`` row: (indices, similarity)."""
    index = np.empty((len(query), MAX_K), np.int64)
    sim = np.empty((len(query), MAX_K), np.float32)
    for a in range(0, len(query), 2048):
        s = x[query[a:a + 2048]] @ x[pool].T
        top = np.argpartition(-s, MAX_K, axis=1)[:, :MAX_K]
        order = np.argsort(-np.take_along_axis(s, top, 1), axis=1)
        top = np.take_along_axis(top, order, 1)
        index[a:a + 2048], sim[a:a + 2048] = pool[top], np.take_along_axis(s, top, 1)
    return index, sim


def vote(y: np.ndarray, index: np.ndarray, sim: np.ndarray, k: int, tau: float) -> np.ndarray:
    w = np.exp((sim[:, :k] - 1) / tau)
    return np.einsum("nk,nkg->ng", w / w.sum(1, keepdims=True), y[index[:, :k]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--split", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args()
    ds, split = load_dataset(args.data), Split.load(args.split)
    config = TrainConfig().with_values({"neighbours.enabled": False}).for_split(split.folds)
    train_genres = [g for i, g in zip(ds.labelled["id"], ds.labelled["genres"], strict=True)
                    if split.parts.get(i, TEST) != TEST]
    vocab = build_vocabulary(train_genres, config.min_support)
    data = load_inputs(ds, split, vocab, config, args.cache or default_cache_dir(), False, None)
    t0 = time.perf_counter()
    cv = cross_validate(data, config, vocab.genres)
    cv_s = time.perf_counter() - t0
    test = data.parts == TEST
    sets = {"poster": (), "everything": None}  # None: every input the movie has

    def scores(model, rows: np.ndarray, keep: tuple | None) -> np.ndarray:
        given = data.inputs.take(rows)
        return model.predict_proba(given if keep is None else withhold(given, data.specs, keep))

    embeddings = [data.inputs.arrays[s.name] for s in data.specs
                  if isinstance(s, BackboneEmbedding)]
    x = np.concatenate([e / np.linalg.norm(e, axis=1, keepdims=True) for e in embeddings], 1)
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    y = data.y.astype(np.float32)
    t1 = time.perf_counter()
    index = np.zeros((len(y), MAX_K), np.int64)
    sim = np.zeros((len(y), MAX_K), np.float32)
    oof = {name: np.zeros(y.shape, np.float32) for name in sets}
    for model, rows in zip(cv.models, cv.scored, strict=True):
        query = np.flatnonzero(rows)
        index[query], sim[query] = neighbours(x, query, np.flatnonzero(~test & ~rows))
        for name, keep in sets.items():
            oof[name][query] = scores(model, rows, keep)
    query, pool = np.flatnonzero(test), np.flatnonzero(~test)
    index[query], sim[query] = neighbours(x, query, pool)
    knn_s = time.perf_counter() - t1
    grid = list(itertools.product((10, 25, 50, 100), (0.02, 0.05, 0.1), (0.0, 0.1, 0.2, 0.3,
                                                                       0.4, 0.5)))
    table = []
    ensemble = FoldEnsemble(cv.models)
    for name, keep in sets.items():
        figures = {(k, tau, w): [macro_map(data.y[rows], (1 - w) * oof[name][rows] + w * vote(
            y, index[rows], sim[rows], k, tau)) for rows in cv.scored] for k, tau, w in grid}
        best = max(figures, key=lambda s: np.mean(figures[s]))
        k, tau, w = best
        alone = ensemble.predict_proba(data.inputs.take(test) if keep is None else withhold(
            data.inputs.take(test), data.specs, keep))
        blended = (1 - w) * alone + w * vote(y, index[test], sim[test], k, tau)
        row = {"inputs": name, "k": k, "tau": tau, "w": w,
               "CV macro mAP alone": np.mean(figures[(k, tau, 0.0)]),
               "CV macro mAP blended": np.mean(figures[best]),
               "CV std blended": np.std(figures[best]),
               "test macro mAP alone": macro_map(data.y[test], alone),
               "test macro mAP blended": macro_map(data.y[test], blended)}
        print(row, flush=True)
        table.append(row)
    write_results(Path(__file__).stem, {"training posters": int((~test).sum()),
                                        "embedding dims": int(x.shape[1]),
                                        "cross-validation s": cv_s, "neighbours s": knn_s,
                                        "blends": table})


if __name__ == "__main__":
    main()
