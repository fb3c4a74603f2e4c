"""The content-addressed array store."""

from __future__ import annotations

import numpy as np
import pytest

from postergenre.cache import ArrayStore


def test_put_get_persist_and_missing(tmp_path):
    s = ArrayStore(tmp_path, "emb-x", "1")
    assert s.missing(["a", "b", "a"]) == ["a", "b"]
    s.put(["a", "b"], np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    again = ArrayStore(tmp_path, "emb-x", "1")
    assert again.get(["b", "a"]).tolist() == [[3.0, 4.0], [1.0, 2.0]]
    assert again.missing(["a", "c"]) == ["c"]
    with pytest.raises(KeyError, match="c"):
        again.get(["c"])


def test_versions_and_producers_are_separate(tmp_path):
    ArrayStore(tmp_path, "emb-x", "1").put(["a"], np.zeros((1, 2)))
    assert "a" not in ArrayStore(tmp_path, "emb-x", "2")
    assert "a" not in ArrayStore(tmp_path, "emb-y", "1")


def test_half_written_shard_is_never_read(tmp_path):
    s = ArrayStore(tmp_path, "p", "1")
    s.put(["a"], np.ones((1, 3)))
    # a killed writer leaves only a temp file, which the store ignores
    (s.dir / ".shard-dead.npz.xyz.tmp").write_bytes(b"PK\x03\x04 half")
    fresh = ArrayStore(tmp_path, "p", "1")
    assert len(fresh) == 1 and fresh.missing(["a", "b"]) == ["b"]


def test_compact_merges_shards(tmp_path):
    s = ArrayStore(tmp_path, "p", "1")
    for i in range(3):
        s.put([f"k{i}"], np.full((1, 2), i))
    s.compact()
    assert len(list(s.dir.glob("shard-*.npz"))) == 1
    assert ArrayStore(tmp_path, "p", "1").get(["k2", "k0"]).tolist() == [[2, 2], [0, 0]]
