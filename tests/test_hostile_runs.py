"""Run folders broken as a user (or a killed ``train``) leaves them, read by ``report``,
``compare``, ``report --runs`` and ``index``: each broken run is refused with one line
naming its file and the reason, never a traceback, and never breaks the leaderboard of the
good runs beside it; a killed ``train``'s staging folders are cleaned by the next one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from postergenre.evaluation import compute_metrics
from postergenre.training.predictions import Predictions
from postergenre.training.record import RunRecord
from postergenre.training.run import staged

from .records import fake_record
from .test_hostile import run as run_cli

GENRES = ["Action", "Comedy", "Drama", "Horror"]
N_TEST = 40



def good_run(folder: Path, seed: int = 0) -> Path:
    """A finished run folder whose metrics.json, history.json and predictions_test.csv agree
    (the test figures are those of its predictions), as ``train`` writes it."""
    rng = np.random.default_rng(seed)
    y = (rng.random((N_TEST, len(GENRES))) < 0.4).astype(np.int8)
    y[: len(GENRES)] = np.eye(len(GENRES))  # every genre has positives and negatives
    prob = np.clip(0.4 * y + 0.6 * rng.random(y.shape), 0, 1).astype(np.float32)
    pred = prob > 0.5
    record = fake_record("head", "abc", 0.5, GENRES, n_train=160)
    record["test"] = compute_metrics(y, prob, pred, GENRES)
    record["data"].update(n_test=N_TEST, dataset=str(folder / "no-dataset"))
    epochs = [{"epoch": e, "train_loss": 1 / e, "val_macro_map": 0.4 + e / 100} for e in (1, 2)]
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(RunRecord.from_json(record).to_json()))
    (folder / "history.json").write_text(json.dumps({"folds": [epochs] * 5, "final": epochs}))
    (folder / "config.json").write_text(json.dumps(record["config"]))
    ids = [f"tt{seed:03d}{i:04d}" for i in range(N_TEST)]
    (folder / "predictions_test.csv").write_text(Predictions(ids, y, prob, pred).to_csv(GENRES))
    (folder / "COMPLETE").write_text("finished\n")
    return folder


def edit_json(name: str, edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def apply(run: Path) -> None:
        doc = json.loads((run / name).read_text())
        edit(doc)
        (run / name).write_text(json.dumps(doc))
    return apply


def edit_predictions(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(run: Path) -> None:
        path = run / "predictions_test.csv"
        path.write_text(edit(pd.read_csv(path, dtype=str, keep_default_na=False))
                        .to_csv(index=False))
    return apply


def with_cell(row: int, column: str, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(table: pd.DataFrame) -> pd.DataFrame:
        table.loc[row, column] = value
        return table
    return edit


def other_runs_predictions(run: Path) -> None:
    other = good_run(run.parent.parent / "elsewhere" / run.name, seed=7)
    (run / "predictions_test.csv").write_text((other / "predictions_test.csv").read_text())


# run name -> (how it is broken, the reason: a regular expression after "RUN/")
BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing-key": (edit_json("metrics.json", lambda m: m["test"].pop("macro_f1")),
                    r"metrics\.json: test\.macro_f1 is missing"),
    "string-number": (edit_json("metrics.json", lambda m: m["data"].update(n_train="160")),
                      r"metrics\.json: data\.n_train must be a whole number, not '160'"),
    "nan": (edit_json("metrics.json", lambda m: m["cv"]["summary"]["metrics"]["macro_map"]
                      .update(mean=float("nan"))),
            r"metrics\.json: cv\.summary\.metrics\.macro_map\.mean must be a finite number, "
            r"not nan"),
    "inf": (edit_json("metrics.json", lambda m: m["test"].update(macro_map=float("inf"))),
            r"metrics\.json: test\.macro_map must be a finite number, not inf"),
    "not-json": (lambda run: (run / "metrics.json").write_text('{"postergenre": '),
                 r"metrics\.json: unreadable \(JSONDecodeError: "),
    "history-shape": (edit_json("history.json", lambda h: h.update(folds={"0": []})),
                      r"history\.json: folds must be a list, not an object"),
    "history-value": (edit_json("history.json", lambda h: h["final"][0].update(epoch="one")),
                      r"history\.json: final\[0\]\.epoch must be a finite number, not 'one'"),
    "rows-short": (edit_predictions(lambda t: t.iloc[:-2]),
                   r"predictions_test\.csv: 38 rows, but metrics\.json counts 40 test movies "
                   r"\(data\.n_test\)"),
    "duplicate-id": (edit_predictions(with_cell(1, "id", "tt0000000")),
                     r"predictions_test\.csv: holds id 'tt0000000' more than once"),
    "nan-probability": (edit_predictions(with_cell(3, "Comedy", "nan")),
                        r"predictions_test\.csv: id 'tt0000003': the Comedy probability is "
                        r"'nan', not a number from 0 to 1"),
    "unknown-genre": (edit_predictions(with_cell(5, "true", "Drama|Western")),
                      r"predictions_test\.csv: id 'tt0000005': true names 'Western', not a "
                      r"genre of the run"),
    "other-predictions": (other_runs_predictions,
                          r"predictions_test\.csv: gives test macro mAP 0\.\d{4}, but "
                          r"metrics\.json states 0\.\d{4} \(test\.macro_map\)"),
    "count-mismatch": (edit_json("metrics.json", lambda m: m["data"].update(n_test=41)),
                       r"metrics\.json: test\.n_samples must be the test movies' count "
                       r"\(data\.n_test, 41\), not 40"),
    "missing-column": (edit_predictions(lambda t: t.drop(columns=["Horror"])),
                       r"predictions_test\.csv: no column 'Horror'"),
    "no-rows": (edit_predictions(lambda t: t.iloc[:0]),
                r"predictions_test\.csv: holds no test predictions"),
    "unfinished": (lambda run: (run / "COMPLETE").unlink(), r"unfinished"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A folder of runs: one good, and one per way of breaking a run."""
    folder = tmp_path_factory.mktemp("runs") / "runs"
    good_run(folder / "good")
    for name, (breaks, _) in BROKEN.items():
        breaks(good_run(folder / name))
    return folder


def test_compare_ranks_the_good_run_and_names_each_broken_one(runs, capsys, tmp_path):
    code, out, err = run_cli(capsys, ["compare", "--runs", runs, "--no-throughput",
                                      "--out", tmp_path / "lb"])
    assert code == 0, err
    table = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert [r for r in table["run"] if not r.startswith("baseline")] == ["good"]
    written = (tmp_path / "lb" / "leaderboard.md").read_text()
    refused = dict(line.removeprefix("Not listed: ").split(": ", 1)
                   for line in written.splitlines() if line.startswith("Not listed: "))
    assert set(refused) == {str(runs / name) for name in BROKEN}
    for name, (_, why) in BROKEN.items():
        assert re.match(why, refused[str(runs / name)]), (name, refused[str(runs / name)])
    ranked = written.split("Not listed")[0]
    assert "inf" not in ranked and "nan" not in ranked  # no refused number is shown


def test_report_reports_the_good_run_and_refuses_each_broken_one_in_one_line(runs, capsys,
                                                                             tmp_path):
    code, _, err = run_cli(capsys, ["report", runs / "good", "--out", tmp_path / "good.html",
                                    "--bootstrap", "100"])
    assert code == 0, err
    assert (tmp_path / "good.html").stat().st_size > 10_000
    for name, (_, why) in BROKEN.items():
        out = tmp_path / f"{name}.html"
        code, _, err = run_cli(capsys, ["report", runs / name, "--out", out])
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (name, err)
        assert lines[0].startswith(f"error: {runs / name}"), (name, err)
        assert re.search(why, lines[0]), (name, err)
        assert not out.exists()


def test_the_leaderboard_page_lists_the_good_run_and_names_each_broken_one(runs, capsys,
                                                                           tmp_path):
    code, _, err = run_cli(capsys, ["report", "--runs", runs, "--out", tmp_path / "lb.html"])
    assert code == 0, err
    page = (tmp_path / "lb.html").read_text(encoding="utf-8")
    assert f'data-run="{runs / "good"}"' in page
    for name in BROKEN:
        assert f'data-run="{runs / name}"' not in page
        assert f"Not listed: {runs / name}: " in page


def test_index_refuses_an_unfinished_or_broken_run_like_report(runs, capsys):
    code, _, err = run_cli(capsys, ["index", runs / "unfinished"])
    assert code == 2
    assert err.strip() == (f"error: {runs / 'unfinished'}: unfinished run (no COMPLETE marker); "
                           "wait for train to end")
    for name in ("rows-short", "inf"):  # the index leaves out the test ids the run records
        code, _, err = run_cli(capsys, ["index", runs / name])
        assert code == 2 and re.search(BROKEN[name][1], err.strip()), (name, err)


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_train_cleans_staging_folders_whose_process_is_gone(tmp_path, capsys):
    out = tmp_path / "run"
    good_run(out)
    dead, alive = dead_pid(), subprocess.Popen([sys.executable, "-c", "input()"],
                                               stdin=subprocess.PIPE)
    left = tmp_path / f".run.partial-{dead}"  # a killed train's: a whole bundle
    running = tmp_path / f".run.partial-{alive.pid}"  # a train still running
    set_aside = tmp_path / f".run.old-{dead}"  # killed while replacing the run
    for folder in (left, running, set_aside):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "graph.onnx").write_bytes(b"x" * 1000)
    try:
        capsys.readouterr()
        with staged(out) as stage:
            assert not left.exists() and not set_aside.exists() and running.is_dir()
            (stage / "metrics.json").write_text("{}")
        err = capsys.readouterr().err
    finally:
        alive.kill()
        alive.wait()
    assert f"note: removed {left}, left by a train that was killed (process {dead})" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run", running.name])
    assert (out / "COMPLETE").is_file() and (out / "metrics.json").read_text() == "{}"


def test_a_run_set_aside_by_a_killed_train_comes_back(tmp_path, capsys):
    dead = dead_pid()
    set_aside = good_run(tmp_path / f".run.old-{dead}")
    before = (set_aside / "metrics.json").read_text()

    class Killed(Exception):
        pass

    with pytest.raises(Killed), staged(tmp_path / "run"):
        raise Killed  # the new run never finishes
    assert (tmp_path / "run" / "metrics.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert f"restored from .run.old-{dead}" in capsys.readouterr().err


def test_a_valid_record_without_a_cv_figure_is_listed_with_a_dash(tmp_path, capsys):
    runs = tmp_path / "runs"
    edit_json("metrics.json", lambda m: m["cv"]["summary"]["metrics"].pop("macro_map"))(
        good_run(runs / "no-cv-map"))
    code, _, err = run_cli(capsys, ["report", "--runs", runs, "--out", tmp_path / "lb.html"])
    assert code == 0, err
    assert f'data-run="{runs / "no-cv-map"}"' in (tmp_path / "lb.html").read_text()
