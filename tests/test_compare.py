"""``compare``: the leaderboard of finished runs on one split and one genre vocabulary, with
baselines; other splits, other genre sets and unfinished runs are refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from postergenre.bundle.graph import OUTPUT
from postergenre.bundle.io import write_bundle
from postergenre.cli import main
from postergenre.compare import compare, measure_throughput
from postergenre.errors import UserError
from postergenre.evaluation.rules import DecisionRules
from postergenre.evaluation.thresholds import DecisionRule
from postergenre.features.onnx_export import export_graph
from postergenre.features.specs import FIELDS

from .bundles import build_bundle
from .records import fake_record

GENRES = [f"genre{i:02d}" for i in range(24)]


def fake_run(
    folder,
    model: str,
    split: str,
    macro_map: float,
    n_train=800,
    genres=GENRES,
    settings: str | None = "made-up settings",
    finished=True,
    **config,
):
    """A run folder as ``train`` writes it (metrics.json + config.json, then the COMPLETE
    marker), numbers and config made up. ``settings=None``: an older run that recorded none."""
    record = fake_record(model, split, macro_map, list(genres), n_train, settings, config)
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(record))
    (folder / "config.json").write_text(json.dumps(record["config"]))
    if finished:
        (folder / "COMPLETE").write_text("")
    return folder


def test_leaderboard_lists_runs_on_one_split_with_baselines(tmp_path, capsys):
    runs = tmp_path / "runs"
    fake_run(runs / "frozen", "head", "abc", 0.40)
    fake_run(runs / "seed", "seed-cnn", "abc", 0.20, n_train=300)
    fake_run(runs / "other", "head", "zzz", 0.90)
    board = compare([runs], measure=False)
    t = board.table
    assert board.split_fingerprint == "abc"
    assert list(t["run"]) == ["frozen", "seed", "baseline: prevalence", "baseline: best_constant"]
    assert list(t["model"][:2]) == ["head", "seed-cnn"]
    assert t.loc[0, "cv_macro_map"] == pytest.approx(0.39) and t.loc[0, "cv_macro_map_std"] == 0.02
    assert t["predict_per_s"].isna().all() and t.loc[0, "train_s"] == 61.0  # not measured
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
    assert board.refused[str(marker_only)] == "metrics.json: missing"
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


class PosterTitleYear(nn.Module):
    """A stand-in fused graph: poster canvas, title token ids and year -> genre probabilities
    (each input moves the output, so none is optimised away)."""

    def __init__(self, n_genres: int):
        super().__init__()
        self.linear = nn.Linear(3, n_genres)

    def forward(self, poster, title, year):
        features = torch.stack([poster.mean(dim=(1, 2, 3)) / 255.0,
                                (title != 0).float().mean(dim=1), year[:, 0] / 2000.0], dim=1)
        return torch.sigmoid(self.linear(features))


def fused_bundle(out, genres: list[str]):
    """A real format-3 bundle whose graph takes three declared inputs, as a fused model's does
    (the default model's graph takes poster, title, year and plot)."""
    fields = ["poster", "title", "year"]
    graph_file = export_graph(PosterTitleYear(len(genres)), out.parent / "fused.onnx",
                              {f: FIELDS[f].example for f in fields}, output_names=(OUTPUT,),
                              more_axes={f: FIELDS[f].axes for f in fields})
    declared = [{"name": f, "type": FIELDS[f].type, "required": f == "poster",
                 "preprocessing": {**FIELDS[f].preprocessing, "inputs": {}}} for f in fields]
    rule = DecisionRule(np.full(len(genres), 0.5, np.float32), None, True)
    optional = [d["name"] for d in declared if not d["required"]]
    write_bundle(out, graph_file, genres, DecisionRules.uncalibrated(rule, len(genres), optional),
                 declared, info={"model": {"name": "toy"}})
    graph_file.unlink()
    return out


def test_throughput_is_measured_on_every_input_the_bundle_declares(tmp_path, capsys):
    genres = GENRES[:3]
    runs = tmp_path / "runs"
    head = fake_run(runs / "head", "head", "abc", 0.3, genres=genres)
    fused = fake_run(runs / "fusion", "fusion", "abc", 0.4, genres=genres)
    build_bundle(head / "model", genres=genres)
    fused_bundle(fused / "model", genres)
    assert [i["name"] for i in json.loads((fused / "model" / "bundle.json").read_text())[
        "inputs"]] == ["poster", "title", "year"]
    assert measure_throughput(fused, seconds=0.2, batch_size=4) > 0
    board = compare([runs], seconds=0.2, threads=1)
    speeds = dict(zip(board.table["run"], board.table["predict_per_s"], strict=True))
    assert speeds["head"] > 0 and speeds["fusion"] > 0, speeds
    assert not board.refused and any("measured now" in n for n in board.notes)
    assert main(["compare", "--runs", str(runs), "--seconds", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "leaderboard (split abc, 3 genres)" in out and "measured now" in out
    # a run without a bundle has no figure; a broken bundle is a note, not a traceback
    (fused / "model" / "model.onnx").write_bytes(b"not a graph")
    shutil.rmtree(head / "model")
    board = compare([runs], seconds=0.2)
    assert board.table["predict_per_s"].isna().all()
    assert any(n.startswith(f"predict posters/s of {fused}: not measured (")
               and "checksum mismatch" in n for n in board.notes), board.notes


def write_metrics(run, edit) -> None:
    """Change the run's metrics.json by ``edit(record)``, written as Python's json writes it
    (NaN and Infinity included)."""
    record = json.loads((run / "metrics.json").read_text())
    edit(record)
    (run / "metrics.json").write_text(json.dumps(record))


BAD_RECORDS = {
    "inf-string": (lambda m: m["test"].update(macro_map="inf"),
                   "metrics.json: test.macro_map must be a finite number, not 'inf'"),
    "nan": (lambda m: m["cv"]["summary"]["metrics"]["macro_f1"].update(mean=float("nan")),
            "metrics.json: cv.summary.metrics.macro_f1.mean must be a finite number, not nan"),
    "infinity": (lambda m: m["baselines"]["prevalence"].update(micro_f1=float("inf")),
                 "metrics.json: baselines.prevalence.micro_f1 must be a finite number, not inf"),
    "unknown-key": (lambda m: m["test"].update(macro_mAP=0.99),
                    "metrics.json: test.macro_mAP is an unknown key"),
    "missing-key": (lambda m: m.pop("timings"), "metrics.json: timings is missing"),
    "list-not-object": (lambda m: m["test"].update(per_genre=[0.99]),
                        "metrics.json: test.per_genre must be an object, not a list"),
    "string-count": (lambda m: m["data"].update(n_train="800"),
                     "metrics.json: data.n_train must be a whole number, not '800'"),
    "short-thresholds": (lambda m: m["decision"].update(thresholds=[0.5]),
                         "metrics.json: decision.thresholds must hold one number per genre "
                         "(24), not 1"),
}


def test_a_run_with_an_invalid_record_is_listed_with_file_and_key_and_never_ranked(tmp_path,
                                                                                   capsys):
    runs = tmp_path / "runs"
    fake_run(runs / "good", "head", "abc", 0.30)
    for name, (edit, _) in BAD_RECORDS.items():
        write_metrics(fake_run(runs / name, "head", "abc", 0.987654), edit)
    board = compare([runs], measure=False)
    assert list(board.table["run"]) == ["good", "baseline: prevalence", "baseline: best_constant"]
    assert set(board.records) == {str(runs / "good")}
    for name, (_, why) in BAD_RECORDS.items():
        assert board.refused[str(runs / name)] == why, name
    md = board.to_markdown()
    assert "0.988" not in md and "0.987" not in md  # no number of a refused record is printed
    for name, (_, why) in BAD_RECORDS.items():
        assert f"Not listed: {runs / name}: {why}" in md
    assert main(["compare", "--runs", str(runs), "--no-throughput", "--out",
                 str(tmp_path / "lb")]) == 0
    out = capsys.readouterr().out
    assert "not listed" in out and "0.988" not in out
    assert "0.988" not in (tmp_path / "lb" / "leaderboard.csv").read_text()
    written = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "inf-string: metrics.json: test.macro_map must be a finite number, not 'inf'" in written
    # every run invalid: one line naming the first run's file and key
    only_bad = tmp_path / "bad"
    write_metrics(fake_run(only_bad / "a", "head", "abc", 0.3), BAD_RECORDS["nan"][0])
    with pytest.raises(UserError, match=r"a: metrics.json: cv\.summary\.metrics\.macro_f1\.mean"):
        compare([only_bad], measure=False)
