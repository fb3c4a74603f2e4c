"""Hostile input at every entry point: each case ends with its exit code and one message
line naming the file or option, never a traceback, and loses nothing written earlier.

One tiny model is trained per module (``colour_dataset``, mobilenet_v2 embeddings, a head),
through ``--config`` so that the config file's values are what the run uses.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from postergenre.cli import main
from postergenre.data.options import DatasetOptions
from postergenre.data.splits import Split
from postergenre.errors import UserError
from postergenre.training import TrainConfig

from .conftest import save_image
from .test_train import COLOURS, colour_dataset


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)``: (exit code, stdout, stderr), with no traceback anywhere."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    data = colour_dataset(root / "data", n=60)
    config = root / "best_config.json"  # as `tune` writes it: min_support 5, not the CLI's 50
    config.write_text(json.dumps(TrainConfig.of(backbones=["mobilenet_v2"], min_support=5,
                                                folds=3).to_json()))
    train = ["train", str(data), "--config", str(config), "--cache", str(root / "cache")]
    assert main([*train, "--out", str(root / "run")]) == 0
    return SimpleNamespace(root=root, data=data, config=config, run=root / "run",
                           bundle=root / "run" / "model", train=train)


@pytest.fixture
def no_work(monkeypatch):
    """Reading a dataset fails the test: what is refused must be refused before that."""

    def opened(*args, **kwargs):
        raise AssertionError("the dataset was read before the refusal")

    monkeypatch.setattr(DatasetOptions, "open", opened)


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_config_values_stand_unless_an_option_is_given(trained, capsys, monkeypatch, tmp_path):
    config = json.loads((trained.run / "metrics.json").read_text())["config"]
    assert config["min_support"] == 5 and config["backbones"] == ["mobilenet_v2"]
    got = []

    def fake_train(ds, out, split, cfg, cache, **options):
        got.append(cfg)
        raise UserError("stopped before training")

    monkeypatch.setattr("postergenre.training.train", fake_train)
    code, _, err = run(capsys, [*trained.train, "--out", tmp_path / "r", "--min-support", "7"])
    assert code == 2 and "stopped before training" in one_line(err)
    assert got[0].min_support == 7  # the option given
    assert got[0].settings.backbones == ["mobilenet_v2"]  # the config's value stands


def test_files_that_are_not_posters_are_skipped_not_read(trained, capsys, tmp_path):
    fifo, folder, big = tmp_path / "fifo.jpg", tmp_path / "x.jpg", tmp_path / "big.jpg"
    os.mkfifo(fifo)
    folder.mkdir()
    with open(big, "wb") as f:
        f.truncate(200 * 2**20)  # sparse: 200 MB that take no disk
    bad = [Path("/dev/zero"), fifo, folder, big]
    code, out, err = run(capsys, ["predict", trained.bundle, *bad, "--json"])
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == len(bad) + 1 and lines[-1].startswith("error: none of the given")
    for path, why in zip(bad, ["character device", "FIFO", "no poster files", "64 MB limit"],
                         strict=True):
        assert [line for line in lines if str(path) in line and why in line], (path, err)
    good = save_image(tmp_path / "red.png", COLOURS["Horror"])
    code, out, err = run(capsys, ["predict", trained.bundle, *bad, good, "--json"])
    assert code == 0 and len(err.strip().splitlines()) == len(bad)
    assert json.loads(out.splitlines()[-1])["genres"][0] == "Horror"


def test_predict_results_in_input_order_skips_on_stderr(trained, capsys, tmp_path):
    red = save_image(tmp_path / "b-red.png", COLOURS["Horror"])
    bad = tmp_path / "a-bad.jpg"
    bad.write_text("not a poster")
    blue = save_image(tmp_path / "c-blue.png", COLOURS["Drama"])
    inputs = [blue, bad, red]
    code, out, err = run(capsys, ["predict", trained.bundle, *inputs, "--json"])
    assert code == 0 and [json.loads(x)["file"] for x in out.splitlines()] == list(map(str, inputs))
    assert err.strip().splitlines() == [f"skipped {bad}: not an image (unrecognised format)"]
    code, out, err = run(capsys, ["predict", trained.bundle, *inputs, "--csv"])
    rows = pd.read_csv(io.StringIO(out))
    assert code == 0 and list(rows["file"]) == list(map(str, inputs))
    assert len(err.strip().splitlines()) == 1 and str(bad) in err


def test_16_bit_grey_poster_reads_like_its_8_bit_copy(trained, capsys, tmp_path):
    grey = Image.open(trained.data / "posters" / "tt0001.png").convert("L")
    grey.save(tmp_path / "grey8.png")
    wide = np.asarray(grey).astype(np.uint16) * 257
    Image.fromarray(wide).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    code, out, _ = run(capsys, ["predict", trained.bundle, tmp_path / "grey8.png",
                                tmp_path / "grey16.png", "--json"])
    p8, p16 = (json.loads(line)["probabilities"] for line in out.splitlines())
    assert code == 0 and set(p8) == set(p16)
    assert max(abs(p8[g] - p16[g]) for g in p8) <= 0.01


def test_interrupted_train_keeps_the_earlier_run(trained, capsys, monkeypatch, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained.run, out)
    before = tree_digest(out)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("postergenre.training.job.export_bundle_graph", interrupt)
    code, _, err = run(capsys, [*trained.train, "--out", out])
    assert code == 130 and err.strip().splitlines()[-1] == "error: interrupted"
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .partial- or .old- left


@pytest.mark.parametrize("command", ["train", "evaluate", "data check", "data split"])
def test_out_naming_a_file_is_refused_before_work(trained, capsys, no_work, tmp_path, command):
    taken = tmp_path / "taken"
    taken.write_text("precious\n")
    argv = {"train": ["train", trained.data], "evaluate": ["evaluate", trained.bundle,
                                                           trained.data],
            "data check": ["data", "check", trained.data],
            "data split": ["data", "split", trained.data]}[command]
    code, _, err = run(capsys, [*argv, "--out", taken])
    assert code == 2 and str(taken) in one_line(err)
    assert taken.read_text() == "precious\n"


@pytest.mark.parametrize("command", ["train", "evaluate", "tune"])
def test_split_naming_a_folder_is_one_line(trained, capsys, no_work, tmp_path, command):
    argv = {"train": ["train", trained.data, "--out", tmp_path / "r"],
            "evaluate": ["evaluate", trained.bundle, trained.data],
            "tune": ["tune", trained.data, "--out", tmp_path / "t"]}[command]
    code, _, err = run(capsys, [*argv, "--split", tmp_path])
    assert code == 2 and f"{tmp_path}: is a folder" in one_line(err)
    assert sorted(tmp_path.iterdir()) == []


def genre_dataset(root: Path, genres: list[str]) -> Path:
    """Posters coloured as ``colour_dataset``'s, labelled ``genres`` (cycled)."""
    colours = list(COLOURS.values())
    rows = []
    for i in range(12):
        save_image(root / f"m{i:02d}.png", colours[i % 3], seed=i)
        rows.append({"imdb_id": f"m{i:02d}", "genres": genres[i % len(genres)]})
    pd.DataFrame(rows).to_csv(root / "genres.csv", index=False)
    return root


def test_evaluate_refuses_a_split_of_another_dataset_version(trained, capsys, tmp_path):
    ids = json.loads((trained.run / "split.json").read_text())["parts"]
    foreign = tmp_path / "split.json"
    Split(ids, 3, 0.15, 0, "another-version").save(foreign)
    code, _, err = run(capsys, ["evaluate", trained.bundle, trained.data, "--split", foreign])
    assert code == 2 and "another version" in one_line(err)


def test_evaluate_refuses_a_dataset_without_the_models_genres(trained, capsys, tmp_path):
    data = genre_dataset(tmp_path / "d", ["Western", "Musical"])
    code, _, err = run(capsys, ["evaluate", trained.bundle, data])
    assert code == 2 and f"{data}: none of its genres" in one_line(err)


def test_evaluate_notes_genres_the_model_lacks(trained, capsys, tmp_path):
    data = genre_dataset(tmp_path / "d", ["Horror", "Drama", "Comedy|Western"])
    code, out, err = run(capsys, ["evaluate", trained.bundle, data])
    assert code == 0 and "on 12 posters" in out
    assert err.strip().splitlines() == ["note: genres not in the model, not scored: Western"]


def test_data_check_shows_merged_genres_and_duplicate_ids(capsys, tmp_path):
    data = genre_dataset(tmp_path / "d", ["Sci-Fi", " sci-fi ", "Drama"])
    table = pd.read_csv(data / "genres.csv")
    table = pd.concat([table, pd.DataFrame({"imdb_id": ["m02"], "genres": ["Comedy"]})])
    table.to_csv(data / "genres.csv", index=False)
    code, out, _ = run(capsys, ["data", "check", data, "--out", tmp_path / "out"])
    printed = " ".join(out.split())
    assert code == 0
    assert "note: genres.csv: genre 'sci-fi' merged into 'Sci-Fi'" in printed
    assert "note: genres.csv: 1 id(s) in several rows with different genres" in printed


@pytest.mark.parametrize("case, message", [
    ("empty table", "genres.csv: empty table"),
    ("no id matches", "genres.csv: none of its"),
    ("nothing decodes", "{data}: n"),  # none of ... decodes / could be read; no movie ...
])
@pytest.mark.parametrize("command", ["data check", "train", "evaluate"])
def test_datasets_with_nothing_usable_are_one_line(trained, capsys, tmp_path, case, message,
                                                   command):
    data = genre_dataset(tmp_path / "d", ["Horror", "Drama", "Comedy"])
    if case == "empty table":
        (data / "genres.csv").write_bytes(b"")
    elif case == "no id matches":
        pd.DataFrame({"imdb_id": ["a", "b"], "genres": ["Drama"] * 2}).to_csv(
            data / "genres.csv", index=False)
    else:
        for poster in data.glob("*.png"):
            poster.write_text("not a poster")
    argv = {"data check": ["data", "check", data, "--out", tmp_path / "out"],
            "train": ["train", data, "--out", tmp_path / "run", "--min-support", "1",
                      "--folds", "3", "--backbones", "mobilenet_v2",
                      "--cache", trained.root / "cache"],
            "evaluate": ["evaluate", trained.bundle, data]}[command]
    code, _, err = run(capsys, argv)
    line = err.strip().splitlines()[-1]  # after any progress bar
    assert code == 2 and line.startswith("error: ") and message.format(data=data) in line, err
    assert err.count("error: ") == 1 and not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, named", [
    (["train", "{data}", "--seed", "-1"], "seed"),
    (["train", "{data}", "--folds", "2"], "folds"),
    (["data", "split", "{data}", "--folds", "1000"], "1000"),
    (["predict", "{bundle}", "{data}", "--batch-size", "0"], "--batch-size"),
    (["data", "split", "{data}", "--test", "0"], "test"),
    (["train", "{data}", "--test", "0"], "test"),
])
def test_bad_numbers_are_one_line(trained, capsys, tmp_path, argv, named):
    argv = [a.format(data=trained.data, bundle=trained.bundle) for a in argv]
    code, _, err = run(capsys, [*argv, "--out", tmp_path / "out"] if "predict" not in argv
                       else argv)
    assert code == 2 and named in one_line(err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["data check", "predict"])
def test_ctrl_c_is_one_line_and_130(trained, capsys, monkeypatch, tmp_path, command):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if command == "data check":
        monkeypatch.setattr("postergenre.cli.data.check_dataset", interrupt)
        argv = ["data", "check", trained.data, "--out", tmp_path / "out"]
    else:
        monkeypatch.setattr("postergenre.predict.predict_files", interrupt)
        argv = ["predict", trained.bundle, trained.data]
    code, out, err = run(capsys, argv)
    assert code == 130 and err == "error: interrupted\n" and out == ""
