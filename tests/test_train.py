"""End to end on a tiny synthetic set where the genre is visible in the pixels."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from postergenre.bundle import load_bundle
from postergenre.cli import main
from postergenre.errors import UserError
from postergenre.features.inputs import Inputs
from postergenre.models.heads import HeadClassifier, HeadConfig
from postergenre.training import TrainConfig

from .conftest import save_image

COLOURS = {"Horror": (220, 20, 20), "Drama": (20, 20, 220), "Comedy": (240, 220, 20)}


def colour_dataset(root, n=90, seed=0):
    """Posters whose genre is their colour; a stripe of a second colour adds a second genre."""
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    rows = []
    for i in range(n):
        main_genre = names[i % 3]
        genres = [main_genre]
        path = root / "posters" / f"tt{i:04d}.png"
        save_image(path, COLOURS[main_genre], size=(92, 134), seed=i)
        if rng.random() < 0.3:
            second = names[(i + 1) % 3]
            from PIL import Image

            im = Image.open(path).convert("RGB")
            im.paste(COLOURS[second], (0, 0, 92, 45))
            im.save(path)
            genres.append(second)
        rows.append({"imdb_id": f"tt{i:04d}", "genres": "|".join(genres)})
    pd.DataFrame(rows).to_csv(root / "genres.csv", index=False)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    data = colour_dataset(tmp / "data")
    run = tmp / "run"
    argv = ["train", str(data), "--out", str(run), "--split", str(tmp / "split.json"),
            "--folds", "3", "--min-support", "5", "--backbones", "efficientnet_lite0",
            "--cache", str(tmp / "cache")]
    assert main(argv) == 0
    return tmp, data, run


def test_train_learns_colours_end_to_end(trained):
    tmp, data, run = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["macro_map"] > 0.95
    assert metrics["test"]["macro_f1"] > 0.85
    assert metrics["cv"]["summary"]["metrics"]["macro_map"]["mean"] > 0.9
    for name in ("metrics.md", "config.json", "predictions_test.csv", "plots/per_genre_ap.png",
                 "plots/roc_curves.png", "plots/pr_curves.png", "model/model.onnx",
                 "model/bundle.json"):
        assert (run / name).is_file(), name
    test_ids = set(json.loads((tmp / "split.json").read_text())["parts"])
    assert set(pd.read_csv(run / "predictions_test.csv")["id"]) <= test_ids


def test_predict_json_on_new_posters(trained, tmp_path, capsys):
    _, _, run = trained
    red = save_image(tmp_path / "red.jpg", COLOURS["Horror"], size=(300, 450), seed=99)
    blue = save_image(tmp_path / "blue.webp", COLOURS["Drama"], size=(120, 180), seed=98)
    (tmp_path / "broken.jpg").write_text("not an image")
    capsys.readouterr()
    assert main(["predict", str(run / "model"), str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    by_file = {d["file"]: d for d in lines}
    assert by_file[str(red)]["genres"][0] == "Horror"
    assert by_file[str(blue)]["genres"][0] == "Drama"
    probs = list(by_file[str(red)]["probabilities"].values())
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)
    assert by_file[str(tmp_path / "broken.jpg")]["probabilities"] is None
    assert "broken.jpg" in captured.err
    assert main(["predict", str(run / "model"), str(red), str(blue), "--side-by-side",
                 "--rank-by", "Drama"]) == 0
    capsys.readouterr()
    assert main(["predict", str(run / "model"), str(red), "--csv"]) == 0
    assert capsys.readouterr().out.startswith("file,genres,")


def test_evaluate_matches_training_report(trained, capsys):
    tmp, data, run = trained
    capsys.readouterr()
    assert main(["evaluate", str(run / "model"), str(data), "--split", str(tmp / "split.json"),
                 "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    reported = json.loads((run / "metrics.json").read_text())["test"]
    for key in ("macro_map", "macro_f1", "micro_f1", "samples_f1", "macro_roc_auc", "per_genre"):
        assert m[key] == reported[key], key  # the same probabilities from the same bundle
    table = pd.read_csv(run / "predictions_test.csv")
    assert m["n_evaluated"] == len(table)


def test_bundle_round_trip_and_corruption_refused(trained, tmp_path):
    _, _, run = trained
    copy = tmp_path / "model"
    shutil.copytree(run / "model", copy)
    b = load_bundle(copy)
    assert b.genres == json.loads((run / "model/bundle.json").read_text())["genres"]
    with open(copy / "model.onnx", "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02")
    with pytest.raises(UserError, match="checksum mismatch"):
        load_bundle(copy)
    meta = json.loads((run / "model/bundle.json").read_text())
    (copy / "bundle.json").write_text(json.dumps({**meta, "kind": "something-else"}))
    with pytest.raises(UserError, match="not a postergenre"):
        load_bundle(copy)
    with pytest.raises(UserError, match="no bundle.json"):
        load_bundle(tmp_path)


def test_predict_bad_model_is_one_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("kind, loss", [("linear", "bce"), ("mlp", "weighted_bce"),
                                        ("mlp", "focal"), ("mlp", "asl")])
def test_heads_learn_a_separable_problem(kind, loss):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16)).astype(np.float32)
    y = np.stack([x[:, 0] > 0.5, x[:, 1] + x[:, 2] > 0, x[:, 3] < -1], axis=1).astype(np.uint8)
    cfg = HeadConfig(kind=kind, loss=loss, hidden=32, max_epochs=30, patience=5, lr=3e-3)
    fit, val = Inputs.complete(x=x[:300]), Inputs.complete(x=x[300:])
    head = HeadClassifier(["x"], cfg).fit(fit, y[:300], val, y[300:])
    p = head.predict_proba(val)
    assert p.shape == (100, 3) and ((p > 0) & (p < 1)).all()
    from sklearn.metrics import roc_auc_score

    assert min(roc_auc_score(y[300:, j], p[:, j]) for j in range(3)) > 0.85


def test_per_input_heads_blend_into_the_joint_head_and_the_graph():
    """Two inputs: one head on both and one on each alone, blended by ``per_input``; the
    graph gives what ``predict_proba`` gives, and weight 0 is the joint head alone."""
    import torch

    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 8)).astype(np.float32)
    b = rng.normal(size=(300, 6)).astype(np.float32)
    y = np.stack([a[:, 0] > 0, b[:, 0] + a[:, 1] > 0], axis=1).astype(np.uint8)
    fit, val = Inputs.complete(a=a[:200], b=b[:200]), Inputs.complete(a=a[200:], b=b[200:])
    cfg = HeadConfig(hidden=16, max_epochs=5, per_input=0.4)
    head = HeadClassifier(["a", "b"], cfg).fit(fit, y[:200], val, y[200:])
    assert [s.inputs for s in head.singles] == [["a"], ["b"]]
    joint = head._predict(head.features(val))
    alone = np.mean([s.predict_proba(val) for s in head.singles], axis=0)
    p = head.predict_proba(val)
    np.testing.assert_allclose(p, 0.6 * joint + 0.4 * alone, rtol=1e-5, atol=1e-6)
    assert not np.allclose(p, joint, atol=1e-3)
    with torch.no_grad():
        graph = head.graph_module().eval()({"a": torch.from_numpy(a[200:]),
                                            "b": torch.from_numpy(b[200:])}).numpy()
    np.testing.assert_allclose(graph, p, atol=1e-5)
    off = HeadClassifier(["a", "b"], HeadConfig(hidden=16, max_epochs=5, per_input=0.0))
    assert off.fit(fit, y[:200]).singles == [] and HeadClassifier(["a"], cfg).singles == []


def test_config_round_trip():
    cfg = TrainConfig.of("head", backbones=["mobilenet_v2"], **{"head.kind": "linear"})
    assert cfg.settings.head == HeadConfig(kind="linear")
    assert TrainConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg
    for model, option in (("seed-cnn", "backbones"), ("head", "fusion"), ("text", "head")):
        with pytest.raises(ValueError, match=f"{option} does not apply to model '{model}'"):
            TrainConfig.from_json({**TrainConfig.of(model).to_json(), option: {}})
    with pytest.raises(ValueError):
        HeadConfig(kind="transformer")
