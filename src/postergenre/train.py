"""``postergenre train``: cross-validate a poster model, train the final one, test it once.

One poster's path: file → canvas → cached backbone embedding(s) → head → probabilities →
per-genre thresholds. Cross-validation runs on the training part only: in round k, fold k is
scored, fold k+1 is the validation fold (early stopping and thresholds) and the rest trains.
The final head trains on every training fold for the median best epoch count; its thresholds
are chosen on the out-of-fold CV predictions. The test part is scored once, at the end.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .atomic import write_json, write_text
from .bundle import write_bundle
from .bundle.fuse import FusedModel, export_fused
from .cache import default_cache_dir
from .data.dataset import Dataset
from .data.splits import TEST, Split, load_or_make_split
from .data.vocab import Vocabulary, build_vocabulary, multi_hot
from .errors import UserError
from .evaluation import (
    compute_metrics,
    evaluate_baselines,
    fit_decision,
    render_markdown,
    summarise_folds,
)
from .features.canvas import CANVAS_HW, CANVAS_REVISION
from .features.extract import embed
from .features.onnx_export import export_module
from .models.choices import get_model
from .models.finetune import FineTuneConfig
from .models.heads import HeadConfig, HeadEnsemble
from .models.seed_cnn import SeedCNNConfig
from .progress import stderr


@dataclass
class TrainConfig:
    backbones: list[str] = field(
        default_factory=lambda: ["efficientnet_lite0", "mobilenet_v2", "efficientnet_lite2"]
    )
    tta: bool = False
    head: HeadConfig = field(default_factory=HeadConfig)
    min_support: int = 50
    folds: int = 5
    test: float = 0.15
    seed: int = 0
    at_least_one: bool = True
    final: str = "cv-ensemble"  # head: "cv-ensemble" (average the fold heads) or "refit"
    model: str = "head"  # a name in models.choices.MODELS: head | seed-cnn | finetune
    seed_cnn: SeedCNNConfig = field(default_factory=SeedCNNConfig)
    finetune: FineTuneConfig = field(default_factory=FineTuneConfig)
    train_subset: int | None = None  # train on this many random training posters (test: all)
    cv_rounds: int | None = None  # run only the first N CV rounds (None: one per fold)

    def __post_init__(self):
        get_model(self.model)  # ValueError naming the choices

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["head"] = HeadConfig(**d.get("head", {}))
        d["seed_cnn"] = SeedCNNConfig(**d.get("seed_cnn", {}))
        d["finetune"] = FineTuneConfig(**d.get("finetune", {}))
        return cls(**d)


@dataclass
class Features:
    """Model inputs (embeddings, or uint8 pixels) of the labelled, decodable posters of a
    split, with their labels."""

    ids: list[str]
    parts: np.ndarray  # part name per row
    x: np.ndarray
    y: np.ndarray
    failures: dict[str, str]


def split_rows(ds: Dataset, split: Split, config: TrainConfig) -> pd.DataFrame:
    """The labelled posters of the split; with ``train_subset``, that many random training
    posters (seeded) and the whole test part."""
    rows = ds.labelled[ds.labelled["id"].isin(split.parts)].reset_index(drop=True)
    if config.train_subset:
        is_train = np.array([split.parts[i] != TEST for i in rows["id"]])
        train_ids = sorted(rows["id"][is_train])  # by id: the same subset with or without test
        if config.train_subset < len(train_ids):
            rng = np.random.default_rng(config.seed)
            keep = set(rng.choice(train_ids, config.train_subset, replace=False))
            rows = rows[~is_train | rows["id"].isin(keep).to_numpy()].reset_index(drop=True)
    return rows


def load_inputs(ds: Dataset, split: Split, vocab: Vocabulary, config: TrainConfig,
                cache_dir: Path, progress: bool = True) -> Features:
    """What the configured model reads: cached embeddings or cached pixels."""
    choice = get_model(config.model)
    if choice.inputs == "embeddings":
        return load_features(ds, split, vocab, config, cache_dir, progress)
    from .models.pixels import load_pixels

    rows = split_rows(ds, split, config)
    x, failed = load_pixels(list(rows["path"]), list(rows["sha256"]), choice.pixel_hw(config),
                            cache_dir, progress)
    failures = {str(k): v for k, v in failed.items()}
    rows = rows[[str(p) not in failures for p in rows["path"]]]
    return Features(
        ids=list(rows["id"]),
        parts=np.array([split.parts[i] for i in rows["id"]]),
        x=x,
        y=multi_hot(rows["genres"], vocab.genres),
        failures=failures,
    )


def load_features(ds: Dataset, split: Split, vocab: Vocabulary, config: TrainConfig,
                  cache_dir: Path, progress: bool = True) -> Features:
    """Embed every split poster with each backbone (cached) and concatenate."""
    rows = split_rows(ds, split, config)
    paths, hashes = list(rows["path"]), list(rows["sha256"])
    blocks, failures = [], {}
    for name in config.backbones:
        x, failed = embed(paths, hashes, name, cache_dir, tta=config.tta, progress=progress)
        kept = [p for p in paths if p not in failed]
        blocks.append(dict(zip(kept, x, strict=True)))
        failures.update({str(k): v for k, v in failed.items()})
    ok = np.array([str(p) not in failures for p in paths])
    rows = rows[ok]
    x = np.stack([np.concatenate([b[p] for b in blocks]) for p in rows["path"]])
    return Features(
        ids=list(rows["id"]),
        parts=np.array([split.parts[i] for i in rows["id"]]),
        x=x,
        y=multi_hot(rows["genres"], vocab.genres),
        failures=failures,
    )


def cross_validate(f: Features, config: TrainConfig, genres: list[str], on_fold=None,
                   keep_models: list | None = None):
    """Per-fold metrics, out-of-fold probabilities for the training part, best epochs.

    ``on_fold(k, fold_metrics_so_far)`` is called after each round (tuning prunes there);
    the fitted fold models are appended to ``keep_models`` when it is given.
    """
    choice = get_model(config.model)
    folds = [f"fold{k}" for k in range(config.folds)]
    rounds = min(config.cv_rounds or len(folds), len(folds))
    train_mask = f.parts != TEST
    oof = np.full(f.y.shape, np.nan, dtype=np.float32)
    fold_metrics, best_epochs = [], []
    for k, fold in enumerate(folds[:rounds]):
        val_fold = folds[(k + 1) % len(folds)]
        fit = train_mask & (f.parts != fold) & (f.parts != val_fold)
        val, ev = f.parts == val_fold, f.parts == fold
        head = choice.make(config).fit(f.x[fit], f.y[fit], f.x[val], f.y[val])
        rule = fit_decision(f.y[val], head.predict_proba(f.x[val]),
                            at_least_one=config.at_least_one)
        probs = head.predict_proba(f.x[ev])
        oof[ev] = probs
        pred = rule.apply(probs)
        fold_metrics.append(compute_metrics(f.y[ev], probs, pred, genres))
        best_epochs.append(head.best_epoch)
        if keep_models is not None:
            keep_models.append(head)
        stderr.print(
            f"fold {k + 1}/{rounds}: macro mAP {fold_metrics[-1]['macro_map']:.3f}, "
            f"macro-F1 {fold_metrics[-1]['macro_f1']:.3f}, micro-F1 "
            f"{fold_metrics[-1]['micro_f1']:.3f} (best epoch {head.best_epoch})",
            highlight=False,
        )
        if on_fold is not None:
            on_fold(k, fold_metrics)
    return fold_metrics, oof, best_epochs


def train(ds: Dataset, out: Path, split_path: Path, config: TrainConfig | None = None,
          cache_dir: Path | None = None, progress: bool = True) -> dict:
    """Run the whole job and write the run folder; returns the summary written as metrics.json."""
    config = config or TrainConfig()
    cache_dir = cache_dir or default_cache_dir()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    split, made = load_or_make_split(ds, split_path, config.folds, config.test, config.seed)
    if split.folds != config.folds:
        config.folds = split.folds
    train_genres = [g for i, g in zip(ds.labelled["id"], ds.labelled["genres"], strict=True)
                    if split.parts.get(i, TEST) != TEST]
    vocab = build_vocabulary(train_genres, config.min_support)
    if not vocab.genres:
        raise UserError(f"{ds.root}: no genre has {config.min_support} training examples "
                        "(lower --min-support)")
    genres = vocab.genres

    choice = get_model(config.model)
    f = load_inputs(ds, split, vocab, config, cache_dir, progress)
    timings["features_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    fold_models: list = []
    fold_metrics, oof, best_epochs = cross_validate(f, config, genres, keep_models=fold_models)
    timings["cross_validation_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    train_mask, test_mask = f.parts != TEST, f.parts == TEST
    epochs = max(1, int(np.median(best_epochs)))
    ensemble = choice.name == "head" and config.final == "cv-ensemble"
    if ensemble:  # the fold heads, averaged: better than one refit (README) and no extra fit
        head = HeadEnsemble(fold_models)
    else:
        head = choice.make(config).fit(f.x[train_mask], f.y[train_mask], epochs=epochs)
    scored = train_mask & ~np.isnan(oof).any(axis=1)  # all of it unless cv_rounds < folds
    rule = fit_decision(f.y[scored], oof[scored], at_least_one=config.at_least_one)
    timings["final_fit_s"] = time.perf_counter() - t2

    probs = head.predict_proba(f.x[test_mask])
    pred = rule.apply(probs)
    test_metrics = compute_metrics(f.y[test_mask], probs, pred, genres)
    baselines = evaluate_baselines(f.y[train_mask], f.y[test_mask], genres)
    cv_summary = summarise_folds(fold_metrics)

    t3 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if choice.name == "head":
        fused = FusedModel(config.backbones, head.module, tta=config.tta)
        onnx_path = export_fused(fused, out / "fused.onnx.tmp")
    else:
        onnx_path = export_module(choice.graph(head, config), out / "fused.onnx.tmp",
                                  output_names=("probabilities",))
    info = {
        "model": choice.describe(config),
        "decision": {**rule.to_json(), "thresholds_from": "out-of-fold CV predictions"},
        "vocabulary": vocab.to_json(),
        "metrics": {"test": _headline(test_metrics), "cv": _headline_cv(cv_summary)},
        "data": {"dataset": str(ds.root), "dataset_fingerprint": ds.fingerprint(),
                 "split_file": str(split_path), "split_seed": split.seed,
                 "n_train": int(train_mask.sum()), "n_test": int(test_mask.sum())},
    }
    preprocessing = {"canvas_hw": list(CANVAS_HW), "canvas_revision": CANVAS_REVISION,
                     "canvas": "decode to RGB (alpha on white), stretch to canvas, bilinear",
                     "in_graph": choice.in_graph}
    write_bundle(out / "model", onnx_path, genres, rule.thresholds, preprocessing, info)
    onnx_path.unlink()
    timings["bundle_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0

    summary = {
        "postergenre": __version__,
        "config": config.to_json(),
        "model": {"name": choice.name, "summary": choice.summary,
                  "device": choice.device(config), "train_subset": config.train_subset,
                  "cv_rounds": len(fold_metrics)},
        "split": {"file": str(split_path), "made_now": made, "folds": split.folds,
                  "seed": split.seed, "fingerprint": split.fingerprint},
        "data": {"labelled_in_split": len(split.parts), "skipped_files": f.failures,
                 "genres": genres, "dropped_genres": vocab.dropped,
                 "n_train": int(train_mask.sum()), "n_test": int(test_mask.sum())},
        "cv": {"folds": fold_metrics, "summary": cv_summary, "best_epochs": best_epochs,
               "final": ("average of the CV fold models" if ensemble
                         else f"refit on all training folds for {epochs} epochs")},
        "test": test_metrics,
        "baselines": baselines,
        "timings": timings,
    }
    _write_run(out, summary, f, probs, pred, genres, test_mask)
    return summary


def _headline(m: dict) -> dict:
    keys = ("macro_map", "macro_f1", "micro_f1", "weighted_f1", "samples_f1", "hamming_loss",
            "subset_accuracy")
    return {k: m[k] for k in keys if k in m}


def _headline_cv(s: dict) -> dict:
    return {k: s["metrics"][k] for k in _headline(s["metrics"])}


def _write_run(out: Path, summary: dict, f: Features, probs: np.ndarray, pred: np.ndarray,
               genres: list[str], test_mask: np.ndarray) -> None:
    from .evaluation.plots import plot_ap_vs_baseline, plot_pr_curves, plot_roc_curves

    write_json(out / "config.json", summary["config"])
    write_json(out / "metrics.json", summary)
    write_text(out / "metrics.md", render_markdown(
        summary["test"], summary["cv"]["summary"], summary["baselines"],
        title=f"postergenre run {out.name}"))
    y = f.y[test_mask]
    ids = np.array(f.ids)[test_mask]
    table = pd.DataFrame({
        "id": ids,
        "true": ["|".join(g for g, t in zip(genres, row, strict=True) if t) for row in y],
        "predicted": ["|".join(g for g, t in zip(genres, row, strict=True) if t) for row in pred],
    })
    table = pd.concat([table, pd.DataFrame(probs.round(4), columns=genres)], axis=1)
    write_text(out / "predictions_test.csv", table.to_csv(index=False))
    plots = out / "plots"
    plot_ap_vs_baseline(summary["test"], plots / "per_genre_ap.png")
    plot_roc_curves(y, probs, genres, plots / "roc_curves.png")
    plot_pr_curves(y, probs, genres, plots / "pr_curves.png")
