"""Ridge regression from sparse TF-IDF rows to many targets, with out-of-fold predictions.

With fewer rows than columns (a few thousand plots, half a million n-gram buckets) the dual
is cheaper: one Gram matrix ``X Xᵀ`` serves every CV fold and every target, and each fit is
one positive-definite solve on its rows. The Gram is computed in two parts: columns present
in many rows (the common n-grams, most of the non-zeros) as dense float32 blocks through
BLAS, the rest as a sparse product. Above ``DUAL_MAX`` rows the Gram would not fit in memory
and scikit-learn's ``lsqr`` solves the primal, one target at a time. Both fit an unpenalised
intercept, as ``sklearn.linear_model.Ridge`` does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DUAL_MAX = 12_000  # rows: above it, the float64 Gram (8 * rows**2 bytes) and copies grow too big
DENSE_DF = 64  # columns in more rows than this are multiplied densely
BLOCK = 4096  # dense columns at a time


def gram(x: sp.csr_matrix) -> np.ndarray:
    """``x @ x.T`` as a dense float64 array."""
    csc = x.tocsc()
    df = np.diff(csc.indptr)
    common = np.flatnonzero(df > DENSE_DF)
    k = np.zeros((x.shape[0], x.shape[0]), np.float32)
    for start in range(0, len(common), BLOCK):
        d = csc[:, common[start:start + BLOCK]].toarray()
        k += d @ d.T
    rare = csc[:, np.flatnonzero(df <= DENSE_DF)].tocsr()
    return k.astype(np.float64) + (rare @ rare.T).toarray()


def _dual(k: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Dual weights ``a`` and intercept for Gram ``k`` of the fit rows: the prediction for a
    row with kernel row ``k_r`` against them is ``k_r @ a + intercept``."""
    from scipy.linalg import solve

    mean = k.mean(axis=0)
    centred = k - mean - mean[:, None] + mean.mean()  # the Gram of the centred rows
    centred[np.diag_indices_from(centred)] += alpha
    y_mean = y.mean(axis=0)
    a = solve(centred, y - y_mean, assume_a="pos", overwrite_a=True)
    return a, y_mean - (k @ a).mean(axis=0)


def _primal(x: sp.csr_matrix, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=alpha, solver="lsqr").fit(x, y)
    return model.coef_.T, np.atleast_1d(model.intercept_)


def fit_folds(x: sp.csr_matrix, y: np.ndarray, folds: np.ndarray, alpha: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge on every row: ``(coef (columns, targets), intercept (targets,), oof)``, where
    ``oof[i]`` is row i's prediction by the ridge fitted without its fold."""
    y = np.asarray(y, np.float64)
    oof = np.zeros(y.shape, np.float32)
    if x.shape[0] > DUAL_MAX:
        for fold in np.unique(folds):
            out = folds == fold
            coef, intercept = _primal(x[~out], y[~out], alpha)
            oof[out] = x[out] @ coef + intercept
        coef, intercept = _primal(x, y, alpha)
    else:
        k = gram(x)
        for fold in np.unique(folds):
            out, fit = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
            a, intercept = _dual(k[np.ix_(fit, fit)], y[fit], alpha)
            oof[out] = k[np.ix_(out, fit)] @ a + intercept
        a, intercept = _dual(k, y, alpha)
        coef = x.T @ a
    return (np.ascontiguousarray(coef, np.float32),  # C order: safetensors
            np.asarray(intercept, np.float32), oof)
