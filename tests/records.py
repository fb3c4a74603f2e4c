"""A whole, valid run record (``metrics.json``) with made-up numbers, for tests that need run
folders without training one; ``fake_record`` checks it against ``RunRecord`` itself."""

from __future__ import annotations

from postergenre.training.record import RunRecord

RATES = ("macro_map", "micro_ap", "macro_roc_auc", "micro_f1", "macro_f1", "weighted_f1",
         "samples_f1", "micro_precision", "macro_precision", "micro_recall", "macro_recall",
         "subset_accuracy")


def scores(value: float, genres: list[str], n: int = 200) -> dict:
    """``compute_metrics``' layout, every rate ``value``."""
    return {"n_samples": n, "n_genres": len(genres), **dict.fromkeys(RATES, value),
            "hamming_loss": 1 - value, "label_cardinality_true": 2.0,
            "label_cardinality_pred": 2.5, "ap_skipped_genres": [], "roc_auc_skipped_genres": [],
            "per_genre": {g: {"support": 10, "prevalence": 0.05, "predicted": 12, "ap": value,
                              "roc_auc": value, "f1": value, "precision": value,
                              "recall": value} for g in genres}}


def fake_record(model: str, split: str, macro_map: float, genres: list[str],
                n_train: int = 800, settings: str | None = "made-up settings",
                config: dict | None = None) -> dict:
    """``metrics.json`` as ``train`` writes it: test figures ``macro_map`` (Hamming loss
    ``1 - macro_map``), CV means 0.01 lower with std 0.02 over 5 folds, two baselines at 0.1."""
    config = {"model": model, "train_subset": None, "cv_rounds": None, **(config or {})}
    test = scores(macro_map, genres)
    scalars = [k for k, v in test.items() if isinstance(v, int | float)]
    baseline = scores(0.1, genres)
    record = {
        "postergenre": "0.1.0",
        "config": config,
        "model": {"name": model, "summary": "a made-up model", "settings": settings,
                  "device": "cpu", "train_subset": config["train_subset"], "cv_rounds": 5,
                  "final": "refit", "inputs": ["poster:made-up"]},
        "split": {"file": "split.json", "made_now": False, "folds": 5, "seed": 0,
                  "fingerprint": split},
        "data": {"dataset": "data", "labelled_in_split": n_train + 200, "skipped_files": {},
                 "inputs": [], "genres": list(genres), "dropped_genres": {}, "notes": [],
                 "n_train": n_train, "n_test": 200},
        "cv": {"folds": [scores(macro_map - 0.01, genres, 160) for _ in range(5)],
               "summary": {"n_folds": 5,
                           "metrics": {k: {"mean": test[k] - 0.01, "std": 0.02, "n": 5}
                                       for k in scalars},
                           "per_genre_ap": {g: {"mean": macro_map, "std": 0.05, "n": 5}
                                            for g in genres}},
               "best_epochs": [3, 4, 3, 5, 4], "final": "refit on all training folds"},
        "decision": {"type": "per-genre-thresholds+cap", "thresholds": [0.5] * len(genres),
                     "max_genres": 3, "at_least_one": True,
                     "fitted_on": "out-of-fold CV predictions"},
        "test": test,
        "baselines": {
            "prevalence": {**baseline, "baseline": {"name": "prevalence",
                                                    "rule": "p = prevalence", "label_set": []}},
            "best_constant": {**baseline, "micro_f1": 0.3,
                              "baseline": {"name": "best_constant", "rule": "one label set",
                                           "label_set": genres[:1]}},
        },
        "ablation": None,
        "ablation_cv": None,
        "timings": {"features_s": 30.0, "total_s": 61.0},
    }
    RunRecord.from_json(record, "the fake record")  # the test's own record must be valid
    return record
