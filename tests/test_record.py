"""The run record: what a run folder's metrics.json and history.json hold, read back typed and
validated whole, written in the layout ``train`` has always written."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from postergenre.errors import UserError
from postergenre.evaluation.metrics import HEADLINE_KEYS
from postergenre.training.history import History, read_history
from postergenre.training.record import Headline, RunRecord, Stats, read_record

from .records import fake_record

GENRES = ["Drama", "Comedy", "Horror"]


@pytest.fixture
def doc() -> dict:
    return fake_record("fusion", "abc", 0.4, GENRES)


def test_a_record_reads_typed_and_writes_back_the_same_json(doc):
    record = RunRecord.from_json(doc, "m.json")
    assert record.test.per_genre["Drama"].support == 10 and record.model.name == "fusion"
    assert record.cv.summary.metrics["macro_map"] == Stats(mean=0.39, std=0.02, n=5)
    assert record.baselines["best_constant"].baseline.label_set == ["Drama"]
    assert record.at("cv", "summary", "metrics", "macro_map", "mean") == 0.39
    assert record.at("decision", "thresholds", 2) == 0.5
    assert record.versions is None and "versions" not in record.to_json()  # an older run
    assert record.to_json() == doc
    newer = RunRecord.from_json({**doc, "versions": {"python": "3.11.9", "numpy": "2.1"}})
    assert newer.to_json()["versions"]["numpy"] == "2.1"


def test_numpy_scalars_of_a_record_made_in_memory_become_plain_numbers(doc):
    doc["test"]["macro_map"] = np.float32(0.25)
    doc["data"]["n_train"] = np.int64(800)
    written = RunRecord.from_json(doc).to_json()
    assert type(written["test"]["macro_map"]) is float and type(written["data"]["n_train"]) is int
    json.dumps(written, allow_nan=False)


@pytest.mark.parametrize("edit, why", [
    (lambda d: d["test"].update(macro_map="inf"),
     "test.macro_map must be a finite number, not 'inf'"),
    (lambda d: d["test"].update(macro_map=float("inf")),
     "test.macro_map must be a finite number, not inf"),
    (lambda d: d["test"]["per_genre"]["Comedy"].update(f1=float("nan")),
     "test.per_genre.Comedy.f1 must be a finite number, not nan"),
    (lambda d: d["cv"]["folds"][3].update(micro_f1=None),
     "cv.folds[3].micro_f1 must be a finite number, not null"),
    (lambda d: d["cv"]["best_epochs"].append(2.5),
     "cv.best_epochs[5] must be a whole number, not 2.5"),
    (lambda d: d["split"].update(made_now=1), "split.made_now must be true or false, not 1"),
    (lambda d: d["data"].update(n_test=True), "data.n_test must be a whole number, not true"),
    (lambda d: d["model"].update(inputs="poster"), "model.inputs must be a list, not 'poster'"),
    (lambda d: d.update(cv=[]), "cv must be an object, not a list"),
    (lambda d: d["data"].pop("genres"), "data.genres is missing"),
    (lambda d: d.update(benchmark={"throughput": 900.0}), "benchmark is an unknown key"),
    (lambda d: d["data"].update(genres=["Drama", "Drama", "Horror"]),
     "data.genres names a genre twice"),
    (lambda d: d["test"]["per_genre"].pop("Horror"),
     "test.per_genre has no entry for genre 'Horror'"),
])
def test_a_bad_value_is_refused_naming_the_file_and_the_key(doc, tmp_path, edit, why):
    edit(doc)
    (tmp_path / "metrics.json").write_text(json.dumps(doc))
    with pytest.raises(UserError) as e:
        read_record(tmp_path)
    assert str(e.value) == f"{tmp_path / 'metrics.json'}: {why}"


def test_unreadable_or_missing_files_are_refused_in_one_line(tmp_path):
    with pytest.raises(UserError, match=r"metrics\.json: missing$"):
        read_record(tmp_path)
    (tmp_path / "metrics.json").write_text('{"test": ')
    with pytest.raises(UserError, match=r"metrics\.json: unreadable \(JSONDecodeError"):
        read_record(tmp_path)
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(UserError, match=r"metrics\.json: the document must be an object, not a"):
        read_record(tmp_path)


def test_history_keeps_epochs_and_writes_a_nan_as_null(tmp_path):
    history = History.of([[{"epoch": 1, "train_loss": 0.7, "val_macro_ap": float("nan")}], []],
                         [{"member": 0, "epoch": 1, "train_loss": math.inf}])
    assert history.folds[0][0] == {"epoch": 1, "train_loss": 0.7, "val_macro_ap": None}
    assert history.final == [{"member": 0, "epoch": 1, "train_loss": None}]
    (tmp_path / "history.json").write_text(json.dumps(history.to_json(), allow_nan=False))
    assert read_history(tmp_path) == history
    (tmp_path / "history.json").write_text('{"folds": [[{"epoch": "one"}]], "final": []}')
    with pytest.raises(UserError, match=r"history\.json: folds\[0\]\[0\]\.epoch must be a "
                                        r"finite number, not 'one'$"):
        read_history(tmp_path)


def test_the_bundle_headline_is_the_one_headline_list(doc):
    headline = RunRecord.from_json(doc).headline()
    assert list(headline.test) == list(HEADLINE_KEYS) and list(headline.cv) == list(HEADLINE_KEYS)
    meta = {"metrics": headline.to_json()}
    assert Headline.of_bundle(meta, "b/bundle.json") == headline
    assert Headline.of_bundle({}, "b/bundle.json") is None
    meta["metrics"]["test"]["macro_map"] = "high"
    with pytest.raises(UserError, match=r"^b/bundle\.json: metrics\.test\.macro_map must be a "
                                        r"finite number, not 'high'$"):
        Headline.of_bundle(meta, "b/bundle.json")
