"""The content-addressed array store."""

from __future__ import annotations

import signal
import subprocess
import sys

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


KILLED_WRITER = """
import io, os, signal, sys
import numpy as np
from postergenre.cache import ArrayStore

real_savez = np.savez

def savez_then_die(f, **arrays):
    buf = io.BytesIO()
    real_savez(buf, **arrays)
    data = buf.getvalue()
    f.write(data[: len(data) // 2] if sys.argv[2] == "half" else data)
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # no finally, no cleanup: a real crash

np.savez = savez_then_die
ArrayStore(sys.argv[1], "p", "1").put([sys.argv[3]], np.full((1, 3), 7.0))
"""


def _killed_put(root, how: str, key: str) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(root), how, key],
                          capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


def test_shard_of_a_killed_writer_is_never_read(tmp_path):
    s = ArrayStore(tmp_path, "p", "1")
    s.put(["a"], np.ones((1, 3)))
    _killed_put(tmp_path, "half", "b")  # killed halfway through writing the shard
    _killed_put(tmp_path, "whole", "c")  # killed after writing, before the rename
    # what ``atomic_path`` leaves behind is its temp file, ``.{name}.<random>.tmp``
    leftovers = sorted(s.dir.glob(".shard-*.npz.*.tmp"))
    assert len(leftovers) == 2, sorted(p.name for p in s.dir.iterdir())
    assert len(list(s.dir.glob("shard-*.npz"))) == 1  # only the good shard has a final name

    fresh = ArrayStore(tmp_path, "p", "1")
    assert len(fresh) == 1 and fresh.missing(["a", "b", "c"]) == ["b", "c"]
    assert "c" not in fresh  # a whole but unrenamed shard is not trusted either
    assert fresh.get(["a"]).tolist() == [[1.0, 1.0, 1.0]]
    with pytest.raises(KeyError, match="b"):
        fresh.get(["b"])
    # the store still works around the leftovers: writes, compacts and reads back
    fresh.put(["b"], np.full((1, 3), 2.0))
    fresh.compact()
    again = ArrayStore(tmp_path, "p", "1")
    assert again.get(["b", "a"]).tolist() == [[2.0] * 3, [1.0] * 3]
    assert len(again) == 2 and len(list(again.dir.glob("shard-*.npz"))) == 1


def test_compact_merges_shards(tmp_path):
    s = ArrayStore(tmp_path, "p", "1")
    for i in range(3):
        s.put([f"k{i}"], np.full((1, 2), i))
    s.compact()
    assert len(list(s.dir.glob("shard-*.npz"))) == 1
    assert ArrayStore(tmp_path, "p", "1").get(["k2", "k0"]).tolist() == [[2, 2], [0, 0]]
