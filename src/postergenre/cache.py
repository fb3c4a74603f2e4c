"""Content-addressed store for per-image work (pixels, embeddings, OCR text).

Entries are keyed by (content hash, producer id, producer version). Each ``put`` writes one
shard file (``.npz``, no pickle) atomically, so a process killed midway leaves only whole
shards behind and the next run computes just what is missing.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import numpy as np

from .atomic import write_with

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def default_cache_dir() -> Path:
    """`$POSTERGENRE_CACHE`, else `$XDG_CACHE_HOME/postergenre`, else `~/.cache/postergenre`."""
    if env := os.environ.get("POSTERGENRE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "postergenre"


class ArrayStore:
    """Arrays of one shape and dtype, one row per image content hash, for one producer."""

    def __init__(self, root: str | os.PathLike, producer: str, version: str):
        self.producer, self.version = producer, version
        self.dir = Path(root) / _SAFE.sub("_", f"{producer}@{version}")
        self._index: dict[str, tuple[Path, int]] | None = None
        self._shards: dict[Path, np.ndarray] = {}

    def _load_index(self) -> dict[str, tuple[Path, int]]:
        if self._index is None:
            self._index = {}
            for shard in sorted(self.dir.glob("shard-*.npz")):
                with np.load(shard, allow_pickle=False) as z:
                    for row, key in enumerate(z["keys"].tolist()):
                        self._index[key] = (shard, row)
        return self._index

    def __contains__(self, key: str) -> bool:
        return key in self._load_index()

    def __len__(self) -> int:
        return len(self._load_index())

    def missing(self, keys: list[str]) -> list[str]:
        """The keys (deduplicated, in order) that have no entry yet."""
        index = self._load_index()
        return list(dict.fromkeys(k for k in keys if k not in index))

    def get(self, keys: list[str]) -> np.ndarray:
        """Rows for ``keys`` in order; raises ``KeyError`` naming the first missing key."""
        index = self._load_index()
        rows = []
        for key in keys:
            if key not in index:
                raise KeyError(f"{self.producer}@{self.version}: no cached entry for {key}")
            shard, row = index[key]
            rows.append(self._shard(shard)[row])
        if not rows:
            raise KeyError("no keys asked for")
        return np.stack(rows)

    def put(self, keys: list[str], values: np.ndarray) -> None:
        """Store ``values[i]`` under ``keys[i]`` as one new shard, atomically."""
        if len(keys) != len(values):
            raise ValueError("keys and values differ in length")
        if not keys:
            return
        path = self.dir / f"shard-{uuid.uuid4().hex}.npz"
        arr = np.ascontiguousarray(values)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, keys=np.asarray(keys, dtype=str), values=arr)

        write_with(path, write)
        index = self._load_index()
        self._shards[path] = arr
        for row, key in enumerate(keys):
            index[key] = (path, row)

    def compact(self) -> None:
        """Merge all shards into one (atomically), so later loads open a single file."""
        index = self._load_index()
        shards = {shard for shard, _ in index.values()}
        if len(shards) <= 1:
            return
        keys = sorted(index)
        values = self.get(keys)
        self.put(keys, values)
        for shard in shards:
            shard.unlink(missing_ok=True)
            self._shards.pop(shard, None)

    def _shard(self, shard: Path) -> np.ndarray:
        if shard not in self._shards:
            with np.load(shard, allow_pickle=False) as z:
                self._shards[shard] = z["values"]
        return self._shards[shard]
