"""``evaluate`` scores only posters the bundle was not trained on: another split, another
version of the dataset, a training fold or the training dataset whole is refused in one line
(exit code 2) unless ``--allow-other-split``, which then says how many scored posters were
training posters, or that this cannot be known."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from postergenre.cli import main
from postergenre.data.dataset import load_dataset
from postergenre.data.splits import Split, split_dataset

from .bundles import build_bundle
from .test_train import colour_dataset


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> Path:
    """A dataset, the split a toy bundle records as its own, another split of the same
    dataset (20 folds: another test part) and the bundle."""
    root = tmp_path_factory.mktemp("evaluate")
    ds = load_dataset(colour_dataset(root / "data", n=48))
    own = split_dataset(ds, folds=3, test=0.25, seed=0)
    own.save(root / "split.json")
    split_dataset(ds, folds=20, test=0.25, seed=0).save(root / "other.json")
    build_bundle(root / "model", info={"data": {
        "dataset": str(ds.root), "dataset_fingerprint": ds.fingerprint(),
        "split_file": str(root / "split.json"), "split_fingerprint": own.digest()}})
    return root


def evaluate(capsys, root: Path, *args, model: Path | None = None) -> tuple[int, dict, list]:
    """Exit code, the metrics printed (``{}`` if none) and the stderr lines."""
    capsys.readouterr()
    code = main(["evaluate", str(model or root / "model"), str(root / "data"), "--json",
                 *map(str, args)])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err.strip().splitlines()


def training_posters(root: Path, split_file: str, part: str = "test") -> tuple[int, int]:
    """(how many of ``part`` of ``split_file`` are in the bundle's own training part, of)"""
    own = Split.load(root / "split.json")
    scored = Split.load(root / split_file).ids(part)
    return sum(own.parts[i] != "test" for i in scored), len(scored)


def test_the_bundles_own_test_part_is_scored_without_a_note(fx, capsys):
    code, m, err = evaluate(capsys, fx, "--split", fx / "split.json")
    assert code == 0 and err == []
    assert m["training_overlap"]["n"] == 0 and m["notes"] == []


def test_another_split_is_refused_in_one_line_naming_it(fx, capsys):
    other = Split.load(fx / "other.json")
    assert other.ids("test") != Split.load(fx / "split.json").ids("test")
    assert training_posters(fx, "other.json")[0] > 0  # what would be scored as "test"
    code, m, err = evaluate(capsys, fx, "--split", fx / "other.json")
    assert code == 2 and m == {} and len(err) == 1, err
    assert err[0].startswith(f"error: {fx / 'other.json'}: not the split")
    assert "--allow-other-split" in err[0]


def test_another_split_allowed_says_how_many_scored_posters_were_training_ones(fx, capsys):
    n, of = training_posters(fx, "other.json")
    code, m, err = evaluate(capsys, fx, "--split", fx / "other.json", "--allow-other-split")
    assert code == 0 and m["n_evaluated"] == of
    assert m["training_overlap"] == {"n": n, "of": of, "known_from": str(fx / "split.json")}
    assert err[0].startswith(f"note: {fx / 'other.json'}: not the split")
    assert err[1] == (f"note: {n} of the {of} scored posters were in the bundle's training "
                      f"part (per {fx / 'split.json'})")


def test_without_the_bundles_split_file_the_overlap_is_said_to_be_unknown(fx, capsys,
                                                                          tmp_path):
    for name in ("data", "other.json"):
        (tmp_path / name).symlink_to(fx / name)
    model = Path(shutil.copytree(fx / "model", tmp_path / "model"))  # split.json: not there
    doc = json.loads((model / "bundle.json").read_text())
    doc["data"]["split_file"] = str(tmp_path / "split.json")
    (model / "bundle.json").write_text(json.dumps(doc))
    code, m, err = evaluate(capsys, tmp_path, "--split", tmp_path / "other.json",
                            "--allow-other-split")
    assert code == 0 and m["training_overlap"]["n"] is None
    assert len(err) == 2 and "scored posters the bundle was trained on is unknown" in err[1]
    assert f"split file {tmp_path / 'split.json'} is missing" in err[1]


def test_a_training_fold_of_the_bundles_split_is_refused(fx, capsys):
    code, _, err = evaluate(capsys, fx, "--split", fx / "split.json", "--part", "fold0")
    assert code == 2 and len(err) == 1 and "trained on its 'fold0' part" in err[0]
    code, m, err = evaluate(capsys, fx, "--split", fx / "split.json", "--part", "fold0",
                            "--allow-other-split")
    assert code == 0 and m["training_overlap"]["n"] == m["n_evaluated"] > 0


def test_the_training_dataset_whole_is_refused(fx, capsys):
    code, _, err = evaluate(capsys, fx)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {fx / 'data'}: the dataset") and "scored whole" in err[0]
    code, m, err = evaluate(capsys, fx, "--allow-other-split")
    trained = Split.load(fx / "split.json").train_ids()
    assert code == 0 and m["n_evaluated"] == 48 and m["training_overlap"]["n"] == len(trained)
    assert err[1] == (f"note: {len(trained)} of the 48 scored posters were in the bundle's "
                      f"training part (per {fx / 'split.json'})")


def test_another_version_of_the_dataset_is_refused_with_its_own_split(fx, capsys, tmp_path):
    shutil.copytree(fx / "data", tmp_path / "data")
    table = pd.read_csv(tmp_path / "data" / "genres.csv")
    table.loc[0, "genres"] = "Comedy|Drama"  # one label changed: another dataset version
    table.to_csv(tmp_path / "data" / "genres.csv", index=False)
    split_dataset(load_dataset(tmp_path / "data"), folds=3, test=0.25).save(tmp_path / "s.json")
    code, _, err = evaluate(capsys, tmp_path, "--split", tmp_path / "s.json", model=fx / "model")
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {tmp_path / 'data'}: not the version of the dataset")


def test_a_bundle_that_records_no_split_cannot_check_one(fx, capsys, tmp_path):
    model = build_bundle(tmp_path / "model")  # no `data`: nothing to check a split against
    code, _, err = evaluate(capsys, fx, "--split", fx / "split.json", model=model)
    assert code == 2 and len(err) == 1 and "records no split" in err[0]
    code, m, err = evaluate(capsys, fx, model=model)  # another dataset: scored, as ever
    assert code == 0 and err == [] and m["training_overlap"]["n"] is None
