"""seed-cnn (the prototype's network), the pixel cache and fine-tuning, on tiny synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from postergenre.bundle import load_bundle
from postergenre.bundle.graph import BundleGraph
from postergenre.cli import main
from postergenre.features import pixels
from postergenre.features.backbones import BackboneFeatures
from postergenre.features.canvas import CANVAS_HW, load_canvas
from postergenre.features.inputs import Inputs
from postergenre.features.onnx_export import canvas_example, export_graph
from postergenre.features.runtime import open_session
from postergenre.features.specs import Pixels
from postergenre.models.finetune import FineTuneClassifier, FineTuneConfig, trunk_blocks
from postergenre.models.heads import HeadConfig
from postergenre.models.on_pixels import OneInput
from postergenre.models.seed_cnn import SeedCNN, SeedCNNClassifier, SeedCNNConfig
from postergenre.training import TrainConfig

from .conftest import save_image
from .test_train import COLOURS, colour_dataset


def test_architecture_is_the_prototypes():
    net = SeedCNN(5, "relu", (200, 200)).net
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (3, 50, (3, 3), (0, 0)),
        (50, 20, (3, 3), (0, 0)),
        (20, 10, (3, 3), (0, 0)),
    ]
    assert sum(isinstance(m, nn.MaxPool2d) for m in net) == 3
    assert [m.p for m in net if isinstance(m, nn.Dropout)] == [0.2, 0.2, 0.2, 0.5, 0.5]
    dense = [(m.in_features, m.out_features) for m in net if isinstance(m, nn.Linear)]
    assert dense == [(10 * 23 * 23, 64), (64, 32), (32, 5)]  # 200 -> 198/99 -> 97/48 -> 46/23
    # Keras' model.summary() of the prototype counts the same parameters
    assert sum(p.numel() for p in net.parameters()) == 1400 + 9020 + 1810 + 338624 + 2080 + 165
    assert sum(isinstance(m, nn.Tanh) for m in SeedCNN(5, "tanh").net) == 5
    assert not any(isinstance(m, nn.ReLU | nn.Tanh) for m in SeedCNN(5, "linear").net)
    with pytest.raises(ValueError, match="activation"):
        SeedCNNConfig(activation="gelu")


def test_graph_takes_the_canvas_and_resizes_inside(tmp_path):
    torch.manual_seed(0)
    model = SeedCNN(3, "tanh", (40, 40)).eval()
    source = Pixels((40, 40))
    graph = BundleGraph(["poster"], [source], {source.name: None},
                        OneInput(source.name, model)).eval()
    canvas = torch.rand(2, 3, *CANVAS_HW) * 255
    with torch.no_grad():
        direct = torch.sigmoid(model.logits(pixels.resize_like_graph(canvas, (40, 40))))
        assert torch.allclose(graph(canvas), direct)
    path = export_graph(graph, tmp_path / "m.onnx", {"poster": canvas_example},
                        output_names=("probabilities",))
    got = open_session(path).run(None, {"poster": canvas.numpy()})[0]
    np.testing.assert_allclose(got, direct.numpy(), atol=1e-5)


def test_pixel_cache_decodes_each_content_once(tmp_path, monkeypatch):
    files = [
        save_image(tmp_path / f"p{i}.png", (30 * i, 90, 200), size=(50, 70), seed=i)
        for i in range(3)
    ]
    (tmp_path / "bad.jpg").write_text("no image")
    paths = [*files, tmp_path / "bad.jpg", files[0]]
    x, failures = pixels.load_pixels(paths, hw=(32, 24), cache_dir=tmp_path / "c", progress=False)
    assert x.shape == (4, 32, 24, 3) and x.dtype == np.uint8
    assert list(failures) == [tmp_path / "bad.jpg"]
    np.testing.assert_array_equal(x[0], x[3])  # same content, same row
    expected = pixels.to_size(load_canvas(files[1])[None], (32, 24))[0]
    np.testing.assert_array_equal(x[1], expected)

    def no_decoding(job):
        raise AssertionError("decoded again")

    monkeypatch.setattr(pixels, "load_poster", no_decoding)
    again, _ = pixels.load_pixels(files, hw=(32, 24), cache_dir=tmp_path / "c", progress=False)
    np.testing.assert_array_equal(again, x[:3])
    assert (tmp_path / "c" / pixels.pixel_store((32, 24), tmp_path / "c").dir.name).is_dir()


def train_on_colours(tmp_path: Path, cfg: TrainConfig) -> tuple[Path, dict]:
    """``postergenre train`` on 60 coloured posters with ``cfg`` as its config file: the run
    folder and its metrics.json (which names the model and the device it ran on)."""
    data = colour_dataset(tmp_path / "data", n=60)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_json()))
    run = tmp_path / "run"
    argv = ["train", str(data), "--config", str(tmp_path / "cfg.json"), "--out", str(run),
            "--split", str(tmp_path / "split.json"), "--folds", "3", "--min-support", "5",
            "--cache", str(tmp_path / "cache")]
    assert main(argv) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["model"]["name"] == cfg.model
    assert m["model"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    return run, m


def test_seed_cnn_learns_colours_and_exports_a_bundle(tmp_path, capsys):
    cfg = TrainConfig.of("seed-cnn", folds=3, min_support=5, **{
        "seed_cnn.image_hw": [32, 32], "seed_cnn.batch_size": 8, "seed_cnn.max_epochs": 8,
        "seed_cnn.lr": 3e-3})
    run, m = train_on_colours(tmp_path, cfg)
    assert m["config"]["seed_cnn"]["image_hw"] == [32, 32]
    assert m["test"]["macro_roc_auc"] > 0.6
    assert set(m) >= {"cv", "test", "baselines", "timings"}
    for name in ("metrics.md", "config.json", "predictions_test.csv", "plots/roc_curves.png"):
        assert (run / name).is_file(), name
    bundle = load_bundle(run / "model")
    assert bundle.meta["model"]["type"] == "seed-cnn"
    red = save_image(tmp_path / "red.jpg", COLOURS["Horror"], size=(300, 450), seed=7)
    capsys.readouterr()
    assert main(["predict", str(run / "model"), str(red), "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["probabilities"]) == set(bundle.genres)


def test_finetune_trains_only_the_last_blocks_and_the_head():
    rng = np.random.default_rng(0)
    colours = np.array([[220, 20, 20], [20, 20, 220]], np.float32)
    y = np.array([[1, 0], [0, 1]] * 6, np.uint8)
    x = (y @ colours)[:, None, None, :] + rng.normal(0, 10, (12, *CANVAS_HW, 3))
    x = np.clip(x, 0, 255).astype(np.uint8)
    cfg = FineTuneConfig(
        backbone="mobilenet_v2", train_blocks=1, max_epochs=1, batch_size=6, device="cpu"
    )
    clf = FineTuneClassifier("px", cfg, HeadConfig(kind="linear", max_epochs=3),
                             pretrained=False)
    torch.manual_seed(cfg.seed)  # fit builds the same randomly initialised backbone first
    before = [p.detach().clone() for p in BackboneFeatures(cfg.backbone, False).parameters()]
    clf.fit(Inputs.complete(px=x), y)
    module = clf.module
    blocks = trunk_blocks(module.backbone.trunk)
    changed = [
        not torch.equal(a, b) for a, b in zip(before, module.backbone.parameters(), strict=True)
    ]
    last = {id(p) for p in blocks[-1].parameters()}
    for p, moved in zip(module.backbone.parameters(), changed, strict=True):
        assert p.requires_grad == (id(p) in last)
        if id(p) not in last:
            assert not moved
    assert any(changed)
    x = Inputs.complete(px=x)
    p = clf.predict_proba(x)
    assert p.shape == (12, 2) and ((p >= 0) & (p <= 1)).all()
    aug = clf.augment(
        torch.from_numpy(x["px"][:4]).permute(0, 3, 1, 2).float(), torch.Generator().manual_seed(0)
    )
    assert aug.shape == (4, 3, *CANVAS_HW) and 0 <= aug.min() and aug.max() <= 255


def test_seed_cnn_classifier_contract():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    y = (x[:, :, :, 0].mean(axis=(1, 2)) > 127).astype(np.uint8)[:, None].repeat(2, 1)
    y[:, 1] = 1 - y[:, 1]
    for opt in ("sgd", "adagrad", "adam"):
        clf = SeedCNNClassifier("px", SeedCNNConfig(image_hw=[32, 32], optimizer=opt,
                                                    max_epochs=2))
        clf.fit(Inputs.complete(px=x[:14]), y[:14], Inputs.complete(px=x[14:]), y[14:])
        assert 1 <= clf.best_epoch <= 2 and len(clf.history) >= 1
        assert clf.predict_proba(Inputs.complete(px=x)).shape == (20, 2)


@pytest.mark.slow
def test_finetune_end_to_end_writes_a_bundle(tmp_path):
    cfg = TrainConfig.of("finetune", folds=3, min_support=5, cv_rounds=1, **{
        "finetune.backbone": "mobilenet_v2", "finetune.train_blocks": 2,
        "finetune.max_epochs": 1})
    run, m = train_on_colours(tmp_path, cfg)
    assert m["test"]["macro_map"] > 0.8
    assert load_bundle(run / "model").meta["model"]["finetune"]["train_blocks"] == 2
