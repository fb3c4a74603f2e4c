"""The comparable-films index a bundle carries: the training catalogue's posters, searchable.

Written into the bundle folder and registered in ``bundle.json`` (``files`` with sha256 and
size, so loading verifies it; ``similar`` says what it holds):

    similar/index.safetensors   vectors (N, k) float16, unit length; mean (D,) and
                                components (D, k) float32: the PCA that reduced them
    similar/films.json          ids, titles, years, genres, one per vector
    similar/<name>.onnx         the encoder graph(s): canvas pixels -> embedding (D columns,
                                concatenated in order); the very graphs that made the vectors
    similar/thumbnails.safetensors  the films' posters, small (``thumbnails``; written by
                                ``index_films``, after the index)

A query poster's canvas goes through the encoders, the PCA and a normalisation; the nearest
films are those of largest cosine similarity (distance = 1 - cosine). No pickle anywhere.
``build_index`` writes an index from embeddings; ``index_dataset`` embeds a dataset's
posters with cached backbone embeddings first; ``index_run`` does that for a finished run.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save

from ..atomic import write_bytes, write_json, write_with
from ..data.dataset import load_dataset
from ..errors import UserError
from ..features.canvas import to_batch
from ..features.embeddings import PathLike, embed
from ..features.onnx_export import INPUT_NAME, backbone_onnx
from ..features.runtime import open_session
from .format import META_FILE
from .io import Bundle, _sha256, load_bundle
from .thumbnails import add_thumbnails

FOLDER = "similar"
VECTORS = f"{FOLDER}/index.safetensors"
FILMS = f"{FOLDER}/films.json"
DIMS = 128


def build_index(bundle_dir: Path, ids: list[str], titles: list[str | None],
                years: list[int | None], genres: list[list[str]], embeddings: np.ndarray,
                encoders: dict[str, Path], dims: int = DIMS, about: dict | None = None,
                progress: bool = True) -> dict:
    """Write the index of these films into the bundle at ``bundle_dir``; returns its entry.

    ``embeddings[i]`` (float, ``D`` columns) is film ``i``'s poster embedding: the
    concatenated outputs of the ``encoders`` ONNX graphs (name -> file, canvas pixels in,
    one output each), which are copied into the bundle to embed query posters the same way.
    The vectors are reduced to ``min(dims, D, N)`` dimensions by PCA; ``about`` is recorded.
    """
    x = np.asarray(embeddings, np.float64)
    n = len(ids)
    if x.ndim != 2 or len(x) != n or not n or not encoders:
        raise ValueError("need one embedding row per film, at least one film and one encoder")
    if not (len(titles) == len(years) == len(genres) == n):
        raise ValueError("ids, titles, years and genres differ in length")
    mean = x.mean(axis=0)
    centred = x - mean
    values, vectors = np.linalg.eigh(centred.T @ centred)
    k = min(dims, x.shape[1], n)
    components = vectors[:, np.argsort(values)[::-1][:k]]
    reduced = _unit(centred @ components)
    bundle_dir = Path(bundle_dir)
    (bundle_dir / FOLDER).mkdir(exist_ok=True)
    arrays = {"vectors": reduced.astype(np.float16), "mean": mean.astype(np.float32),
              "components": components.astype(np.float32)}
    write_bytes(bundle_dir / VECTORS, save({k: np.ascontiguousarray(a)  # safetensors writes
                                            for k, a in arrays.items()}))  # the raw buffer
    write_json(bundle_dir / FILMS, {"ids": list(ids), "titles": list(titles),
                                    "years": list(years), "genres": [list(g) for g in genres]})
    graphs = []
    for name, path in encoders.items():
        graphs.append(f"{FOLDER}/{name}.onnx")
        write_with(bundle_dir / graphs[-1], partial(shutil.copyfile, path))
    entry = {"vectors": VECTORS, "films": FILMS, "encoders": graphs, "n_films": n, "dims": k,
             "embedding_dims": int(x.shape[1]), "metric": "cosine, on PCA-reduced embeddings",
             **(about or {})}
    doc = json.loads((bundle_dir / META_FILE).read_text(encoding="utf-8"))
    files = {k: v for k, v in doc["files"].items() if not k.startswith(f"{FOLDER}/")}
    for name in (VECTORS, FILMS, *graphs):
        files[name] = {"sha256": _sha256(bundle_dir / name),
                       "bytes": (bundle_dir / name).stat().st_size}
    entry["bytes"] = sum(files[name]["bytes"] for name in (VECTORS, FILMS, *graphs))
    doc.update(files=files, similar=entry)
    write_json(bundle_dir / META_FILE, doc)
    return entry


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def index_dataset(bundle_dir: Path, ds, ids: list[str], backbones: list[str],
                  cache_dir: Path | None = None, dims: int = DIMS,
                  progress: bool = True) -> dict:
    """Index the films ``ids`` of dataset ``ds`` by their posters' ``backbones`` embeddings
    (read from the cache, made where missing); films whose poster does not decode are left
    out. Returns the index's ``bundle.json`` entry."""
    rows = ds.frame.set_index("id").loc[list(ids)]
    paths, hashes = [str(p) for p in rows["path"]], list(rows["sha256"])
    parts: list[np.ndarray] = []
    failed: dict[PathLike, str] = {}
    for backbone in backbones:
        got, failures = embed(paths, hashes, backbone, cache_dir, progress=progress)
        failed = failed or failures  # decoding decides: the same posters for every backbone
        parts.append(got)
    keep = np.array([p not in failed for p in paths])
    if not keep.any():
        raise UserError("no poster of the catalogue could be embedded")
    encoders = {b: backbone_onnx(b, cache_dir) for b in backbones}
    return index_films(bundle_dir, ds, list(rows.index[keep]), np.concatenate(parts, axis=1),
                       encoders, dims, about={"backbones": list(backbones)})


def index_films(bundle_dir: Path, ds, ids: list[str], embeddings: np.ndarray,
                encoders: dict[str, Path], dims: int = DIMS, about: dict | None = None,
                progress: bool = True) -> dict:
    """``build_index`` for films ``ids`` of dataset ``ds``, their titles, years and genres
    read from it (``embeddings`` are theirs, made by ``encoders``), and their posters'
    thumbnails (``thumbnails.add_thumbnails``)."""
    rows = ds.frame.set_index("id").loc[list(ids)]
    entry = build_index(bundle_dir, list(rows.index), [_text(t) for t in _column(rows, "title")],
                        [_year(y) for y in _column(rows, "year")], list(rows["genres"]),
                        embeddings, encoders, dims, about=about)
    return {**entry, "thumbnails": add_thumbnails(bundle_dir, list(rows["path"]), progress)}


def index_run(run_dir: Path, backbones: list[str] | None = None, data_dir: Path | None = None,
              cache_dir: Path | None = None, dims: int = DIMS, progress: bool = True) -> dict:
    """Index a finished run's training catalogue into its bundle (``run_dir/model``): the
    labelled films of its dataset (``data_dir``, default the one it was trained on) that are
    not in its test part. ``backbones`` default to the model's first backbone."""
    bundle_dir = Path(run_dir) / "model"
    meta = load_bundle(bundle_dir).meta
    test_file = Path(run_dir) / "predictions_test.csv"
    if not test_file.is_file():
        raise UserError(f"{run_dir}: not a finished run (no predictions_test.csv)")
    data_dir = Path(data_dir or meta.get("data", {}).get("dataset", ""))
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: the run's dataset is not there; give it with --data")
    ds = load_dataset(data_dir)
    test_ids = set(pd.read_csv(test_file, usecols=["id"], dtype=str)["id"])
    ids = [i for i in ds.labelled["id"] if i not in test_ids]
    backbones = backbones or (meta.get("model", {}).get("backbones") or ["efficientnet_lite0"])[:1]
    return index_dataset(bundle_dir, ds, ids, backbones, cache_dir, dims, progress)


def _column(rows: pd.DataFrame, name: str) -> list:
    return list(rows[name]) if name in rows else [None] * len(rows)


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _year(value) -> int | None:
    try:
        year = int(float(value))
    except (TypeError, ValueError):
        return None
    return year if 1800 <= year <= 2200 else None


@dataclass
class SimilarIndex:
    """A loaded index: query posters' canvases -> the nearest catalogue films."""

    vectors: np.ndarray  # (N, k) float32, unit rows
    mean: np.ndarray
    components: np.ndarray
    films: dict
    encoders: list  # onnxruntime sessions

    @classmethod
    def of(cls, bundle: Bundle, threads: int | None = None) -> SimilarIndex | None:
        """The bundle's index (its files were verified when it loaded), or None."""
        entry = bundle.meta.get("similar")
        if not isinstance(entry, dict):
            return None
        files = set(bundle.meta["files"])
        names = [entry.get("vectors"), entry.get("films"), *entry.get("encoders", [])]
        if not all(isinstance(n, str) and n in files for n in names):
            raise UserError(f"{bundle.path}: its similar-films index names files it lacks")
        arrays = load_file(str(bundle.path / entry["vectors"]))
        films = json.loads((bundle.path / entry["films"]).read_text(encoding="utf-8"))
        sessions = [open_session(bundle.path / name, threads) for name in entry["encoders"]]
        index = cls(arrays["vectors"].astype(np.float32), arrays["mean"], arrays["components"],
                    films, sessions)
        n, k = index.vectors.shape
        if (any(len(films.get(key, ())) != n for key in ("ids", "titles", "years", "genres"))
                or index.components.shape != (len(index.mean), k)):
            raise UserError(f"{bundle.path}: its similar-films index is inconsistent")
        return index

    def __len__(self) -> int:
        return len(self.vectors)

    def embed(self, canvases: list[np.ndarray]) -> np.ndarray:
        """Unit vectors (n, k) for canvases, as the catalogue's were made."""
        x = to_batch(canvases)
        emb = np.concatenate([s.run(None, {INPUT_NAME: x})[0] for s in self.encoders], axis=1)
        return _unit((emb - self.mean) @ self.components)

    def nearest(self, vector: np.ndarray, k: int) -> list[dict]:
        """The ``k`` films nearest to one query vector, nearest first."""
        sims = self.vectors @ vector
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        f = self.films
        return [{"id": f["ids"][i], "title": f["titles"][i], "year": f["years"][i],
                 "genres": f["genres"][i], "distance": round(max(0.0, float(1 - sims[i])), 4)}
                for i in top]
