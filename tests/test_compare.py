"""``compare``: the leaderboard of runs on one split, with baselines, refusing other splits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from postergenre.bundle import write_bundle
from postergenre.cli import main
from postergenre.compare import compare, measure_throughput
from postergenre.errors import UserError
from postergenre.features.onnx_export import export_module
from postergenre.models.seed_cnn import SeedCNN
from postergenre.train import TrainConfig


def fake_run(folder, model: str, split: str, macro_map: float, n_train=800, bench=None):
    """A run folder as ``train`` writes it (metrics.json + config.json), numbers made up."""
    cfg = TrainConfig(model=model)
    metrics = {
        k: macro_map
        for k in (
            "macro_map",
            "micro_ap",
            "macro_roc_auc",
            "macro_f1",
            "micro_f1",
            "samples_f1",
            "subset_accuracy",
        )
    }
    metrics["hamming_loss"] = 1 - macro_map
    summary = {
        "config": cfg.to_json(),
        "model": {"name": model, "device": "cpu"},
        "split": {"fingerprint": split},
        "data": {"n_train": n_train, "n_test": 200},
        "cv": {
            "summary": {
                "n_folds": 5,
                "metrics": {k: {"mean": v - 0.01, "std": 0.02, "n": 5} for k, v in metrics.items()},
            }
        },
        "test": metrics,
        "baselines": {
            "prevalence": {**metrics, "macro_map": 0.1, "baseline": {"rule": "p = prevalence"}},
            "best_constant": {
                **metrics,
                "macro_map": 0.1,
                "micro_f1": 0.3,
                "baseline": {"rule": "one label set"},
            },
        },
        "timings": {"total_s": 61.0},
    }
    if bench:
        summary["benchmark"] = bench
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(summary))
    (folder / "config.json").write_text(json.dumps(cfg.to_json()))
    return folder


def test_leaderboard_lists_runs_on_one_split_with_baselines(tmp_path, capsys):
    runs = tmp_path / "runs"
    fake_run(runs / "frozen", "head", "abc", 0.40, bench={"bare_posters_per_s": 120.0})
    fake_run(runs / "seed", "seed-cnn", "abc", 0.20, n_train=300, bench={"throughput": 900.0})
    fake_run(runs / "other", "head", "zzz", 0.90)
    board = compare([runs], measure=False)
    t = board.table
    assert board.split_fingerprint == "abc"
    assert list(t["run"]) == ["frozen", "seed", "baseline: prevalence", "baseline: best_constant"]
    assert list(t["model"][:2]) == ["head", "seed-cnn"]
    assert t.loc[0, "cv_macro_map"] == pytest.approx(0.39) and t.loc[0, "cv_macro_map_std"] == 0.02
    assert t.loc[1, "predict_per_s"] == 900.0 and t.loc[0, "train_s"] == 61.0
    assert t.loc[2, "cv_macro_map"] is None or np.isnan(t.loc[2, "cv_macro_map"])
    assert any("zzz" in why for why in board.refused.values())
    md = board.to_markdown()
    assert "| frozen | head |" in md and "0.390 ± 0.020" in md and "Not listed" in md
    assert (
        main(["compare", "--runs", str(runs), "--out", str(tmp_path / "lb"), "--no-throughput"])
        == 0
    )
    csv = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert {
        "run",
        "model",
        "settings",
        "cv_macro_map",
        "test_macro_map",
        "train_s",
        "predict_per_s",
    } <= set(csv.columns)
    assert (tmp_path / "lb" / "leaderboard.md").read_text().startswith("All runs on split abc")
    with pytest.raises(UserError, match="no run made on split"):
        compare([runs], split_fingerprint="nope", measure=False)


def test_throughput_is_measured_from_the_bundle(tmp_path):
    run = fake_run(tmp_path / "run", "seed-cnn", "abc", 0.2)
    onnx = export_module(
        SeedCNN(3, "relu", (32, 32)), tmp_path / "m.onnx", output_names=("probabilities",)
    )
    write_bundle(
        run / "model", onnx, ["A", "B", "C"], np.full(3, 0.5), {"canvas_hw": [268, 182]}, {}
    )
    assert measure_throughput(run, seconds=0.2) > 0
    board = compare([run], seconds=0.2)
    assert board.table.loc[0, "predict_per_s"] > 0 and "measured now" in board.notes[0]
