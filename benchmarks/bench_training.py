"""What a training run spends outside the backbones: the fusion MLP's steps and the plot ridge.

    python benchmarks/bench_training.py [--rows 12000] [--plots 5000] [--repeats 3]

One process, alternating the variants so that their ratios hold on a noisy machine:

- the fusion model's training forward+backward on random inputs the shape of the shared
  posters' (three 1,280-dim embeddings, a 384-dim title, 24 plot scores, the year), one
  epoch, with float32 or bf16 autocast (``models.loop``; bf16 only where ``native_bf16``) and
  with torch's dropout or ``ByteDropout``;
- one dropout call on a (512, 4,000) batch, each way;
- the plot ridge on random sparse TF-IDF-like rows (``--plots`` rows, Zipf-distributed
  terms, 24 targets, 5 folds): the dual Gram solve (``features.ridge``) against
  scikit-learn's ``lsqr``, with their largest difference. Random rows let ``lsqr`` converge
  sooner than real plots, so the gap here understates the one on the shared training plots.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from results import write_results  # benchmarks/results.py
from torch import nn

from postergenre.features import ridge
from postergenre.features.inputs import Inputs
from postergenre.models import dropout, fusion, loop


def fusion_epoch_s(rows: int, bf16: bool, byte_dropout: bool) -> float:
    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "title", "plot", "year"]
    widths = [1280, 1280, 1280, 384, 24, 8]
    arrays = {n: rng.normal(size=(rows, w)).astype(np.float32)
              for n, w in zip(names, widths, strict=True)}
    inputs = Inputs(arrays, {n: np.ones(rows, bool) for n in names})
    y = (rng.random((rows, 24)) < 0.1).astype(np.float32)
    cfg = fusion.FusionConfig(max_epochs=1)
    model = fusion.FusionClassifier(names, [False] * 3 + [True] * 3, cfg)
    model.fallback = None  # the fusion network alone
    real_native, real_dropout = loop.native_bf16, fusion.ByteDropout
    loop.native_bf16 = lambda: bf16 and real_native()
    fusion.ByteDropout = dropout.ByteDropout if byte_dropout else nn.Dropout
    try:
        start = time.perf_counter()
        model.fit(inputs, y)
        return time.perf_counter() - start
    finally:
        loop.native_bf16, fusion.ByteDropout = real_native, real_dropout


def dropout_ms(layer: nn.Module, repeats: int = 20) -> float:
    x = torch.ones(512, 4000)
    layer.train()(x)
    start = time.perf_counter()
    for _ in range(repeats):
        layer(x)
    return 1000 * (time.perf_counter() - start) / repeats


def tfidf_like(n: int, columns: int = 400_000, terms: int = 12_000, seed: int = 0
               ) -> sp.csr_matrix:
    """``n`` L2-normalised rows of distinct Zipf-distributed terms (common terms in most
    rows, as n-grams are)."""
    rng = np.random.default_rng(seed)
    rows = [np.unique(np.minimum(rng.zipf(1.3, terms), columns) - 1) for _ in range(n)]
    indptr = np.r_[0, np.cumsum([len(r) for r in rows])]
    x = sp.csr_matrix((rng.random(indptr[-1]).astype(np.float32), np.concatenate(rows), indptr),
                      shape=(n, columns))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
    return sp.csr_matrix(sp.diags(1 / norms) @ x, dtype=np.float32)


def ridge_s(x: sp.csr_matrix, y: np.ndarray, folds: np.ndarray, dual: bool):
    limit = ridge.DUAL_MAX
    ridge.DUAL_MAX = limit if dual else 0
    try:
        start = time.perf_counter()
        out = ridge.fit_folds(x, y, folds, alpha=1.0)
        return time.perf_counter() - start, out
    finally:
        ridge.DUAL_MAX = limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_000, help="fusion training rows")
    parser.add_argument("--plots", type=int, default=5_000, help="ridge rows")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"native bf16 on this CPU: {loop.native_bf16()}; torch threads "
          f"{torch.get_num_threads()}")

    variants = {"fp32, torch dropout": (False, False), "fp32, byte dropout": (False, True),
                "bf16, byte dropout": (True, True)}
    times = {v: [] for v in variants}
    for _ in range(args.repeats):
        for name, (bf16, byte) in variants.items():
            times[name].append(fusion_epoch_s(args.rows, bf16, byte))
    base = min(times["fp32, torch dropout"])
    print(f"\nfusion MLP, one epoch of {args.rows:,} rows (best of {args.repeats}):")
    epochs = []
    for name, t in times.items():
        print(f"  {name:<20} {min(t):6.2f} s  {base / min(t):4.2f}x")
        epochs.append({"variant": name, "epoch s": min(t), "speed-up": base / min(t)})

    torch_ms = min(dropout_ms(nn.Dropout(0.2)) for _ in range(args.repeats))
    byte_ms = min(dropout_ms(dropout.ByteDropout(0.2)) for _ in range(args.repeats))
    print(f"\ndropout on (512, 4000): torch {torch_ms:.1f} ms, byte mask {byte_ms:.1f} ms "
          f"({torch_ms / byte_ms:.1f}x)")

    x = tfidf_like(args.plots)
    rng = np.random.default_rng(1)
    y = (rng.random((args.plots, 24)) < 0.15).astype(np.float32)
    folds = np.arange(args.plots) % 5
    dual_t, (coef_d, _, oof_d) = ridge_s(x, y, folds, dual=True)
    primal_t, (coef_p, _, oof_p) = ridge_s(x, y, folds, dual=False)
    print(f"\nplot ridge, {args.plots:,} rows x {x.shape[1]:,} columns, {x.nnz:,} non-zeros, "
          f"24 targets, 5 folds + the full fit:")
    print(f"  dual (Gram) {dual_t:6.1f} s\n  lsqr        {primal_t:6.1f} s  "
          f"({primal_t / dual_t:.1f}x the dual)")
    print(f"  largest difference: out-of-fold {np.abs(oof_d - oof_p).max():.1e}, "
          f"coefficients {np.abs(coef_d - coef_p).max():.1e}")
    write_results(Path(__file__).stem, {
        "native bf16": loop.native_bf16(), "fusion rows": args.rows, "repeats": args.repeats,
        "fusion epoch": epochs,
        "dropout on (512, 4000)": {"torch ms": torch_ms, "byte mask ms": byte_ms},
        "plot ridge": {"rows": args.plots, "columns": x.shape[1], "non-zeros": x.nnz,
                       "dual s": dual_t, "lsqr s": primal_t,
                       "largest out-of-fold difference": float(np.abs(oof_d - oof_p).max()),
                       "largest coefficient difference": float(np.abs(coef_d - coef_p).max())}})


if __name__ == "__main__":
    main()
