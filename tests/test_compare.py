"""``compare``: the leaderboard of finished runs on one split and one genre vocabulary, with
baselines; other splits, other genre sets and unfinished runs are refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from postergenre.cli import main
from postergenre.compare import compare, measure_throughput
from postergenre.errors import UserError
from postergenre.features.onnx_export import export_module

GENRES = [f"genre{i:02d}" for i in range(24)]


def fake_run(
    folder,
    model: str,
    split: str,
    macro_map: float,
    n_train=800,
    bench=None,
    genres=GENRES,
    settings: str | None = "made-up settings",
    finished=True,
    **config,
):
    """A run folder as ``train`` writes it (metrics.json + config.json, then the COMPLETE
    marker), numbers and config made up. ``settings=None``: an older run that recorded none."""
    cfg = {"model": model, "train_subset": None, "cv_rounds": None, **config}
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
        "config": cfg,
        "model": {"name": model, "device": "cpu", "settings": settings},
        "split": {"fingerprint": split},
        "data": {"n_train": n_train, "n_test": 200, "genres": list(genres)},
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
    (folder / "config.json").write_text(json.dumps(cfg))
    if finished:
        (folder / "COMPLETE").write_text("")
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


class MeanColour(nn.Module):
    """A stand-in bundle graph: canvas pixels -> three "genre" probabilities."""

    def forward(self, pixels):
        return torch.sigmoid(pixels.mean(dim=(2, 3)) / 255.0)


def test_throughput_is_measured_from_the_bundle(tmp_path):
    run = fake_run(tmp_path / "run", "seed-cnn", "abc", 0.2)
    (run / "model").mkdir()
    export_module(MeanColour(), run / "model" / "model.onnx", output_names=("probabilities",))
    assert measure_throughput(run, seconds=0.2) > 0
    board = compare([run], seconds=0.2)
    assert board.table.loc[0, "predict_per_s"] > 0 and "measured now" in board.notes[0]


def test_runs_trained_on_other_genres_are_refused(tmp_path):
    runs = tmp_path / "runs"
    fake_run(runs / "a", "head", "abc", 0.30)
    fewer = fake_run(runs / "b-min-support-5", "head", "abc", 0.90, genres=GENRES[:17])
    fake_run(runs / "c", "seed-cnn", "abc", 0.20)
    board = compare([runs], measure=False)
    assert "b-min-support-5" not in set(board.table["run"])  # would rank first, unfairly
    why = board.refused[str(fewer)]
    assert why.startswith("trained on 17 genres (without genre17, ") and why.endswith("on 24")
    assert f"Not listed: {fewer}: trained on 17 genres" in board.to_markdown()
    # one run on each side: the first run's genres win; the same count of other genres: refused
    other = [*GENRES[:23], "Western"]
    fake_run(tmp_path / "two" / "a", "head", "abc", 0.3)
    renamed = fake_run(tmp_path / "two" / "b", "head", "abc", 0.9, genres=other)
    board = compare([tmp_path / "two"], measure=False)
    assert list(board.table["run"][:1]) == ["a"] and board.genres == tuple(GENRES)
    why = "trained on 24 genres (without genre23; with Western), the others on 24"
    assert board.refused[str(renamed)] == why


def test_the_genre_count_is_shown(tmp_path, capsys):
    runs = tmp_path / "runs"
    fake_run(runs / "a", "head", "abc", 0.30)
    fake_run(runs / "b", "seed-cnn", "abc", 0.20)
    board = compare([runs], measure=False)
    assert list(board.table["n_genres"]) == [24] * 4  # the two runs and their baselines
    header, rows = board.display_rows()
    assert all(row[header.index("genres")] == "24" for row in rows)
    assert board.to_markdown().startswith("All runs on split abc, predicting the same 24 genres")
    assert main(["compare", "--runs", str(runs), "--no-throughput"]) == 0
    assert "leaderboard (split abc, 24 genres)" in capsys.readouterr().out
    assert main(["compare", "--runs", str(runs), "--no-throughput", "--csv"]) == 0
    assert "n_genres" in capsys.readouterr().out.splitlines()[0]


def test_unfinished_runs_are_refused(tmp_path, capsys):
    runs = tmp_path / "runs"
    fake_run(runs / "done", "head", "abc", 0.30)
    running = fake_run(runs / "running", "head", "abc", 0.99, finished=False)
    marker_only = runs / "broken"
    marker_only.mkdir()
    (marker_only / "COMPLETE").write_text("")
    board = compare([runs], measure=False)
    assert list(board.table["run"][:1]) == ["done"] and len(board.table) == 3
    assert board.refused[str(running)] == "unfinished (no COMPLETE marker)"
    assert board.refused[str(marker_only)].startswith("metrics.json unreadable")
    assert f"Not listed: {running}: unfinished (no COMPLETE marker)" in board.to_markdown()
    assert main(["compare", str(running), "--no-throughput"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no finished, readable run") and "no COMPLETE marker" in err


def test_settings_come_from_the_run_without_naming_models(tmp_path):
    fake_run(tmp_path / "new", "seed-cnn", "abc", 0.3, settings="relu/adam, 200x200")
    fake_run(tmp_path / "old", "finetune", "abc", 0.2, settings=None, train_subset=1500)
    fake_run(tmp_path / "older", "head", "abc", 0.1, settings=None)
    board = compare([tmp_path / p for p in ("new", "old", "older")], measure=False)
    settings = dict(zip(board.table["run"], board.table["settings"], strict=True))
    assert settings["new"] == "relu/adam, 200x200"  # what the run recorded
    assert settings["old"] == "finetune, train subset 1500" and settings["older"] == "head"
