"""Every numeric option of ``tune`` and ``compare`` (found by introspecting the commands) at
0, -1 and 10**12: refused in one stderr line with exit code 2, or a documented result."""

from __future__ import annotations

import click
import pytest
import typer.main

from postergenre.cli import app, main
from postergenre.data.dataset import load_dataset
from postergenre.data.splits import load_or_make_split

from .test_compare import fake_run
from .test_train import colour_dataset

VALUES = (0, -1, 10**12)
# the values a command accepts, with what they mean; every other case must be refused
ACCEPTED = {
    ("tune", "--seed", 0): "sampler seed 0 (seeds run from 0 to 2**32 - 1)",
    ("tune", "--timeout", 10**12): "no practical time limit: the trials end the run",
}


def numeric_options(command: str) -> list[str]:
    params = typer.main.get_command(app).commands[command].params
    numeric = (click.types.IntParamType, click.types.FloatParamType)
    options = [p for p in params if isinstance(p, click.Option)]
    return [p.opts[0] for p in options if isinstance(p.type, numeric)]


def cases(command: str) -> list[tuple[str, int]]:
    return [(option, value) for option in numeric_options(command) for value in VALUES]


def check_outcome(command: str, option: str, value: int, code: int, err: str) -> None:
    if (command, option, value) in ACCEPTED:
        assert code == 0, err
        return
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(value) in lines[0], lines[0]
    assert "Traceback" not in err


def test_the_commands_have_numeric_options():
    assert {"--trials", "--timeout", "--seed", "--epochs"} <= set(numeric_options("tune"))
    assert "--seconds" in numeric_options("compare")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune-options")
    data = colour_dataset(root / "data", n=60)
    load_or_make_split(load_dataset(data), root / "split.json", folds=3, test=0.2)
    return root, data


def tune_argv(root, data, out) -> list[str]:
    """A tiny study that runs: one seed-cnn trial, 32 x 32 pixels, one epoch, one CV round."""
    return [
        "tune", str(data), "--model", "seed-cnn", "--space", "prototype-grid",
        "--split", str(root / "split.json"), "--min-support", "5", "--image-size", "32",
        "--epochs", "1", "--cv-rounds", "1", "--trials", "1", "--no-prune",
        "--cache", str(root / "cache"), "--out", str(out),
    ]  # fmt: skip


@pytest.mark.parametrize("option,value", cases("tune"))
def test_tune_numeric_option(dataset, tmp_path, capsys, option, value):
    root, data = dataset
    code = main([*tune_argv(root, data, tmp_path / "study"), option, str(value)])
    check_outcome("tune", option, value, code, capsys.readouterr().err)
    if code == 0:
        assert (tmp_path / "study" / "best_config.json").is_file()


def test_tune_caps_trials_of_a_sampled_space(dataset, tmp_path, capsys):
    root, data = dataset
    argv = [*tune_argv(root, data, tmp_path / "study"), "--space", "wide", "--trials", "100001"]
    assert main(argv) == 2
    assert capsys.readouterr().err == "error: trials must be from 1 to 100000, not 100001\n"


@pytest.mark.parametrize("option,value", cases("compare"))
def test_compare_numeric_option(tmp_path, capsys, option, value):
    fake_run(tmp_path / "runs" / "a", "head", "abc", 0.3)
    code = main(["compare", "--runs", str(tmp_path / "runs"), option, str(value)])
    check_outcome("compare", option, value, code, capsys.readouterr().err)


def test_an_unknown_metric_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """``--metric nope`` used to run a CV round, then fail, and store the bad metric in the
    study so that the corrected command was refused: now it ends before the data is read."""
    read = []
    monkeypatch.setattr("postergenre.data.options.load_dataset",
                        lambda *a, **k: read.append(a) or None)
    out = tmp_path / "study"
    code = main(["tune", str(tmp_path), "--metric", "nope", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--metric 'nope'" in err[0] and "macro_map" in err[0]
    assert read == [] and not out.exists()
