"""``data check``: what is in a dataset folder, and what is wrong with it."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..progress import track
from .dataset import Dataset
from .images import probe
from .vocab import build_vocabulary, multi_hot


def probe_all(paths: list[Path], workers: int | None = None, progress: bool = True):
    """(hash, error) per file, decoding every image in a process pool."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(paths) < 64:
        return list(track(map(probe, paths), len(paths), "decoding", progress))
    with ProcessPoolExecutor(workers) as pool:
        results = pool.map(probe, paths, chunksize=64)
        return list(track(results, len(paths), "decoding", progress))


def check_dataset(ds: Dataset, min_support: int = 50, progress: bool = True) -> dict:
    """Decode every image and report counts, problems, duplicates and genre statistics.

    ``UserError`` if no image decodes.
    """
    frame = ds.frame
    probed = probe_all(list(frame["path"]), progress=progress)
    frame = frame.assign(sha256=[h for h, _ in probed], error=[e for _, e in probed])
    bad = frame[frame["error"].notna()]
    good = frame[frame["error"].isna()]
    if good.empty:
        first = bad.iloc[0]
        raise UserError(
            f"{ds.sources['images']}: none of the {len(bad)} image files decodes "
            f"(e.g. {Path(first['path']).name}: {first['error']})"
        )

    groups = good.groupby("sha256")["id"].apply(sorted)
    dup_groups = [{"sha256": h, "ids": ids} for h, ids in groups.items() if len(ids) > 1]
    dup_groups.sort(key=lambda g: (-len(g["ids"]), g["ids"][0]))

    labelled = good[good["genres"].notna()]
    vocab = build_vocabulary(labelled["genres"], min_support)
    all_genres = list(vocab.counts)
    y = multi_hot(labelled["genres"], all_genres).astype(np.int64)
    co = y.T @ y
    cooc = {
        g: {h: int(co[i, j]) for j, h in enumerate(all_genres) if co[i, j] and i != j}
        for i, g in enumerate(all_genres)
    }
    n_genres = Counter(len(g) for g in labelled["genres"])
    return {
        "dataset": str(ds.root),
        "sources": ds.sources,
        "notes": ds.notes,
        "images_found": int(len(frame)),
        "decodable": int(len(good)),
        "corrupt": [{"id": r.id, "file": str(r.path), "reason": r.error} for r in bad.itertuples()],
        "images_without_labels": sorted(good.loc[good["genres"].isna(), "id"]),
        "labels_without_images": ds.labels_without_images,
        "images_with_empty_genres": sorted(labelled.loc[labelled["genres"].map(len) == 0, "id"]),
        "duplicate_groups": dup_groups,
        "duplicate_files": int(sum(len(g["ids"]) for g in dup_groups)),
        "labelled_decodable": int(len(labelled)),
        "genres_per_poster": {
            "mean": float(np.mean([len(g) for g in labelled["genres"]])) if len(labelled) else 0.0,
            "histogram": {str(k): int(v) for k, v in sorted(n_genres.items())},
        },
        "genre_counts": vocab.counts,
        "vocabulary": {"min_support": min_support, "kept": vocab.genres, "dropped": vocab.dropped},
        "cooccurrence": cooc,
    }
