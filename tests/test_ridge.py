"""The plot ridge: the dual solve equals scikit-learn's ridge, fold by fold."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Ridge

from postergenre.features import ridge


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    x = sp.random(120, 400, density=0.05, random_state=1, format="lil", dtype=np.float32)
    x[:, :5] = rng.random((120, 5))  # a few columns in every row: the dense part of the Gram
    y = (rng.random((120, 3)) < 0.3).astype(np.float32)
    folds = np.array([f"fold{i % 4}" for i in range(120)])
    return sp.csr_matrix(x), y, folds


def test_gram_dense_and_sparse_parts_add_up(problem, monkeypatch):
    x, _, _ = problem
    monkeypatch.setattr(ridge, "DENSE_DF", 20)
    monkeypatch.setattr(ridge, "BLOCK", 3)  # several dense blocks
    assert np.allclose(ridge.gram(x), (x @ x.T).toarray(), atol=1e-5)


@pytest.mark.parametrize("dual", [True, False])
def test_fit_folds_is_sklearn_ridge_with_intercept(problem, monkeypatch, dual):
    x, y, folds = problem
    if not dual:
        monkeypatch.setattr(ridge, "DUAL_MAX", 0)
    coef, intercept, oof = ridge.fit_folds(x, y, folds, alpha=0.7)
    dense = x.toarray().astype(np.float64)
    full = Ridge(alpha=0.7, solver="cholesky").fit(dense, y)
    tol = 1e-4 if dual else 2e-2  # lsqr is iterative
    assert coef.shape == (400, 3) and coef.dtype == np.float32 and coef.flags.c_contiguous
    assert np.allclose(coef, full.coef_.T, atol=tol)
    assert np.allclose(intercept, full.intercept_, atol=tol)
    for fold in np.unique(folds):
        out = folds == fold
        alone = Ridge(alpha=0.7, solver="cholesky").fit(dense[~out], y[~out])
        assert np.allclose(oof[out], alone.predict(dense[out]), atol=tol)
