"""Adding an input is one module (``extra_input``): it trains, exports and predicts."""

from __future__ import annotations

import importlib
import json

import pandas as pd
import pytest

from postergenre.cli import main
from postergenre.data import fields as dataset_fields
from postergenre.data.dataset import load_dataset
from postergenre.features.specs import FIELDS, optional_fields, registry

from .test_train import colour_dataset

RUNTIMES = {"Horror": 90, "Drama": 150, "Comedy": 100}


@pytest.fixture
def extra_input():
    """The module, imported (it registers itself); unregistered afterwards, so other tests
    see the built-in inputs only."""
    from . import extra_input as module

    yield importlib.reload(module)
    for table in (registry.FIELDS, registry.DEFAULTS, dataset_fields.METADATA):
        table.pop("runtime", None)


def test_an_input_declared_in_one_module_trains_exports_and_predicts(extra_input, tmp_path,
                                                                     capsys):
    assert "runtime" in FIELDS and "runtime" in optional_fields()
    data = colour_dataset(tmp_path / "data", n=60)
    genres = pd.read_csv(data / "genres.csv")
    pd.DataFrame({"imdb_id": genres["imdb_id"],
                  "minutes": [RUNTIMES[g.split("|")[0]] if i % 4 else None
                              for i, g in enumerate(genres["genres"])]}
                 ).to_csv(data / "movies.csv", index=False)
    assert load_dataset(data).frame["runtime"].notna().sum() == 45  # its column is read
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": "fusion", "backbones": ["mobilenet_v2"],
                                  "fusion": {"inputs": ["poster", "runtime"]}}))
    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), "--config", str(config), "--folds", "3",
                 "--min-support", "5", "--cache", str(tmp_path / "cache")]) == 0
    bundle = json.loads((run / "model" / "bundle.json").read_text())
    declared = {i["name"]: i for i in bundle["inputs"]}
    assert set(declared) == {"poster", "runtime"} and not declared["runtime"]["required"]
    assert declared["runtime"]["preprocessing"]["inputs"] == {
        "runtime:log": extra_input.RuntimeInput().describe(None)}
    metrics = json.loads((run / "metrics.json").read_text())
    assert "runtime:log" in metrics["model"]["inputs"]
    assert "poster+runtime" in metrics["ablation"]

    poster = sorted((data / "posters").glob("*.png"))[1]  # it has a running time
    capsys.readouterr()
    assert main(["predict", str(run / "model"), str(poster), "--metadata",
                 str(data / "movies.csv"), "--json"]) == 0
    fed = json.loads(capsys.readouterr().out)
    assert fed["inputs"] == ["poster", "runtime"]
    assert main(["predict", str(run / "model"), str(poster), "--json"]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert bare["inputs"] == ["poster"] and bare["probabilities"] != fed["probabilities"]
