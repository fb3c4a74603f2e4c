"""``postergenre evaluate``: score a bundle on any labelled poster dataset (or one split part)."""

from __future__ import annotations

import numpy as np

from .bundle import Bundle
from .data.dataset import Dataset
from .data.splits import Split
from .data.vocab import multi_hot
from .errors import UserError
from .evaluation import compute_metrics
from .predict import predict_records, table_records


def evaluate_bundle(bundle: Bundle, ds: Dataset, split: Split | None = None,
                    part: str | None = None, batch_size: int = 8) -> dict:
    """Metrics of the bundle on the labelled images of ``ds`` (only ``part`` with a split).

    Genres the dataset has and the model lacks are listed (``genres_not_in_model``); the
    model's genres the dataset never has are scored as absent everywhere.
    """
    rows = ds.labelled
    if split is not None:
        if split.fingerprint != ds.fingerprint():
            raise UserError(f"{ds.root}: the split was made for another version of this "
                            f"dataset ({split.fingerprint} != {ds.fingerprint()})")
        if part not in {*split.parts.values()}:
            raise UserError(f"--part {part!r}: the split has parts "
                            f"{sorted(set(split.parts.values()))}")
        rows = rows[rows["id"].map(split.parts.get) == part]
    if rows.empty:
        raise UserError(f"{ds.root}: no labelled posters to evaluate")
    genres = bundle.genres
    known = {g for gs in rows["genres"] for g in gs}
    if not known & set(genres):
        raise UserError(f"{ds.root}: none of its genres is one of the model's ({len(genres)} "
                        "genres); nothing to score")
    preds = list(predict_records(bundle, table_records(rows), list(rows["id"]),
                                 batch_size=batch_size))
    ok = np.array([p.error is None for p in preds])
    if not ok.any():
        raise UserError(f"{ds.root}: none of the {len(preds)} posters could be read")
    probs = np.array([[p.probabilities[g] for g in genres] for p in preds if p.error is None],
                     dtype=np.float32)
    y = multi_hot(rows["genres"][ok], genres)
    metrics = compute_metrics(y, probs, bundle.rule.apply(probs), genres)
    metrics["skipped_files"] = {str(path): p.error for path, p in zip(rows["path"], preds,
                                                                      strict=True) if p.error}
    metrics["n_evaluated"] = int(ok.sum())
    metrics["dataset"] = str(ds.root)
    metrics["genres_not_in_model"] = sorted(known - set(genres))
    return metrics


def summary_line(m: dict) -> str:
    return (
        f"macro mAP {m['macro_map']:.3f}  macro-F1 {m['macro_f1']:.3f}  micro-F1 "
        f"{m['micro_f1']:.3f}  samples-F1 {m['samples_f1']:.3f}  on {m['n_evaluated']} posters"
    )
