"""``postergenre evaluate``: score a bundle on any labelled poster dataset (or one split part).

A bundle records the dataset and split it was trained on (``bundle.json`` ``data``:
``dataset_fingerprint``, ``split_fingerprint``, ``split_file``). Scoring a split part with
another split, a changed dataset, a training fold, or the training dataset whole would score
posters the model was trained on: it is refused unless ``allow_other_split``, and then the
metrics say how many of the scored posters were training posters, where that can be known.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .bundle import Bundle
from .data.dataset import Dataset
from .data.splits import TEST, Split
from .data.vocab import multi_hot
from .errors import UserError
from .evaluation import compute_metrics
from .predict import predict_records, table_records


def evaluate_bundle(bundle: Bundle, ds: Dataset, split: Split | None = None,
                    part: str | None = None, batch_size: int = 8,
                    allow_other_split: bool = False) -> dict:
    """Metrics of the bundle on the labelled images of ``ds`` (only ``part`` with a split).

    Genres the dataset has and the model lacks are listed (``genres_not_in_model``); the
    model's genres the dataset never has are scored as absent everywhere. What ``mismatch``
    refuses is scored only with ``allow_other_split``; ``notes`` then says what differs and
    how many scored posters the bundle was trained on (``training_overlap``).
    """
    rows = ds.labelled
    if split is not None:
        if split.fingerprint != ds.fingerprint():
            raise UserError(f"{ds.root}: the split was made for another version of this "
                            f"dataset ({split.fingerprint} != {ds.fingerprint()})")
        split.check_part(part)
        rows = rows[rows["id"].map(split.parts.get) == part]
    problem = mismatch(bundle, ds, split, part)
    if problem and not allow_other_split:
        raise UserError(f"{problem} (--allow-other-split scores it anyway)")
    if rows.empty:
        raise UserError(f"{ds.root}: no labelled posters to evaluate")
    genres = bundle.genres
    known = {g for gs in rows["genres"] for g in gs}
    if not known & set(genres):
        raise UserError(f"{ds.root}: none of its genres is one of the model's ({len(genres)} "
                        "genres); nothing to score")
    preds = list(predict_records(bundle, table_records(rows), list(rows["id"]),
                                 batch_size=batch_size))
    ok = np.array([p.probabilities is not None for p in preds])  # None: an error
    if not ok.any():
        raise UserError(f"{ds.root}: none of the {len(preds)} posters could be read")
    probs = np.array([[p.probabilities[g] for g in genres] for p in preds
                      if p.probabilities is not None], dtype=np.float32)
    y = multi_hot(rows["genres"][ok], genres)
    metrics = compute_metrics(y, probs, bundle.rule.apply(probs), genres)
    metrics["skipped_files"] = {str(path): p.error for path, p in zip(rows["path"], preds,
                                                                      strict=True) if p.error}
    metrics["n_evaluated"] = int(ok.sum())
    metrics["dataset"] = str(ds.root)
    metrics["genres_not_in_model"] = sorted(known - set(genres))
    trained_on, source = training_ids(bundle, split)
    scored = [i for i, good in zip(rows["id"], ok, strict=True) if good]
    overlap = None if trained_on is None else sum(i in trained_on for i in scored)
    metrics["training_overlap"] = {"n": overlap, "of": len(scored), "known_from": source}
    notes = [problem] if problem else []
    if overlap is None and problem:
        notes.append(f"how many of the {len(scored)} scored posters the bundle was trained "
                     f"on is unknown: {source}")
    elif overlap is not None and (overlap or problem):
        notes.append(f"{overlap} of the {len(scored)} scored posters were in the bundle's "
                     f"training part (per {source})")
    metrics["notes"] = notes
    return metrics


def mismatch(bundle: Bundle, ds: Dataset, split: Split | None, part: str | None) -> str | None:
    """Why scoring ``ds`` (``part`` of ``split``) may score posters the bundle was trained on,
    in one line naming the file; ``None`` when it scores the bundle's own test part, or a
    dataset other than the one the bundle was trained on."""
    data = _recorded(bundle)
    own_ds, own_split = data.get("dataset_fingerprint"), data.get("split_fingerprint")
    own_file = data.get("split_file", "?")
    if split is None:
        if own_ds is not None and own_ds == ds.fingerprint():
            return (f"{ds.root}: the dataset {bundle.path} was trained on, scored whole (its "
                    f"training posters too); score its test part with --split {own_file}")
        return None
    name = split.path or "the split"
    if own_ds is not None and own_ds != ds.fingerprint():
        return (f"{ds.root}: not the version of the dataset {bundle.path} was trained on "
                f"(dataset {ds.fingerprint()}, the bundle's {own_ds})")
    if own_split is None:
        return (f"{name}: {bundle.path} records no split to check it against (made by an "
                "older postergenre: retrain it)")
    if split.digest() != own_split:
        return (f"{name}: not the split {bundle.path} was trained on (split {split.digest()}, "
                f"the bundle's {own_split}, {own_file}); its {part!r} part may hold training "
                "posters")
    if part != TEST:
        return f"{name}: {bundle.path} was trained on its {part!r} part; score --part {TEST}"
    return None


def training_ids(bundle: Bundle, split: Split | None = None) -> tuple[set[str] | None, str]:
    """The ids of the movies the bundle was trained on and where they were read, or ``None``
    and why they cannot be known: from ``split`` or the bundle's own split file, when its
    fingerprint is the one the bundle records, else from the bundle's comparable-films index
    (its training posters)."""
    data = _recorded(bundle)
    own, own_file = data.get("split_fingerprint"), data.get("split_file")
    if own is not None:
        if split is not None and split.digest() == own:
            return set(split.train_ids()), str(split.path or "the split")
        for path in dict.fromkeys([*([Path(own_file)] if own_file else []),
                                   bundle.path.parent / "split.json"]):  # a run keeps its own
            try:
                candidate = Split.load(path)
            except UserError:
                continue
            if candidate.digest() == own:
                return set(candidate.train_ids()), str(path)
    similar = bundle.meta.get("similar")
    films = similar.get("films") if isinstance(similar, dict) else None
    if isinstance(films, str) and films in bundle.meta["files"]:  # verified when it loaded
        ids = json.loads((bundle.path / films).read_text(encoding="utf-8")).get("ids", [])
        return set(ids), f"{bundle.path / films}"
    if own is None:
        return None, f"{bundle.path} records no split"
    return None, f"the bundle's split file {own_file} is missing or was changed since training"


def _recorded(bundle: Bundle) -> dict:
    """What the bundle records about the data it was trained on (``bundle.json`` ``data``)."""
    data = bundle.meta.get("data")
    return data if isinstance(data, dict) else {}


def summary_line(m: dict) -> str:
    return (
        f"macro mAP {m['macro_map']:.3f}  macro-F1 {m['macro_f1']:.3f}  micro-F1 "
        f"{m['micro_f1']:.3f}  samples-F1 {m['samples_f1']:.3f}  on {m['n_evaluated']} posters"
    )
