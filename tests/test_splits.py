"""Splits: stratified, duplicates together, deterministic, saved and checked."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from postergenre.data.splits import Split, make_split
from postergenre.errors import UserError


def _labels(n=600, seed=0):
    rng = np.random.default_rng(seed)
    genres = ["Drama", "Comedy", "Horror", "Western", "Noir"]
    p = [0.5, 0.3, 0.1, 0.03, 0.012]
    lists = [[g for g, q in zip(genres, p, strict=True) if rng.random() < q] for _ in range(n)]
    ids = [f"tt{i:05d}" for i in range(n)]
    hashes = [f"h{i}" for i in range(n)]
    for a, b in [(1, 2), (1, 3), (10, 11), (20, 21)]:  # byte-identical groups
        hashes[b] = hashes[a]
    return ids, hashes, lists


def test_split_parts_cover_everything_and_keep_duplicates_together():
    ids, hashes, lists = _labels()
    s = make_split(ids, hashes, lists, folds=5, test=0.15, seed=3)
    assert set(s.parts) == set(ids)
    parts_of_hash = {}
    for i, h in zip(ids, hashes, strict=True):
        parts_of_hash.setdefault(h, set()).add(s.parts[i])
    assert all(len(p) == 1 for p in parts_of_hash.values())
    sizes = Counter(s.parts.values())
    assert abs(sizes["test"] - 0.15 * len(ids)) < 0.03 * len(ids)
    assert set(s.train_ids()).isdisjoint(s.ids("test"))


def test_every_genre_with_k_examples_is_in_every_fold():
    ids, hashes, lists = _labels(seed=1)
    k = 5
    s = make_split(ids, hashes, lists, folds=k, test=0.15, seed=0)
    counts = Counter(g for genres in lists for g in genres)
    for genre, n in counts.items():
        if n < k + 1:
            continue
        for fold in s.fold_names():
            assert any(genre in lists[ids.index(i)] for i in s.ids(fold)), (genre, fold)


def test_same_seed_same_split_other_seed_differs(tmp_path):
    ids, hashes, lists = _labels()
    a = make_split(ids, hashes, lists, seed=7)
    b = make_split(ids, hashes, lists, seed=7)
    c = make_split(ids, hashes, lists, seed=8)
    assert a.parts == b.parts and a.parts != c.parts
    a.save(tmp_path / "s.json")
    assert Split.load(tmp_path / "s.json").parts == a.parts


def test_bad_arguments_and_files(tmp_path):
    ids, hashes, lists = _labels(50)
    with pytest.raises(UserError):
        make_split(ids, hashes, lists, folds=1)
    with pytest.raises(UserError):
        make_split(ids, hashes, lists, test=1.5)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(UserError, match="not a postergenre split"):
        Split.load(tmp_path / "x.json")


def test_test_part_is_stratified_too():
    ids, hashes, lists = _labels(n=900, seed=2)
    s = make_split(ids, hashes, lists, folds=3, test=0.15, seed=0)
    test = set(s.ids("test"))
    for genre in ("Drama", "Comedy", "Horror", "Western"):
        having = [i for i, g in zip(ids, lists, strict=True) if genre in g]
        share = sum(i in test for i in having) / len(having)
        assert 0.08 < share < 0.22, (genre, share)
