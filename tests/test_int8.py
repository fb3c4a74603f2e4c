"""int8 backbones: calibrated on training posters only, cached apart from fp32, spliced whole
into the bundle, and the bundle scoring what training saw."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pandas as pd
import pytest

from postergenre.bundle import load_bundle
from postergenre.cache import ArrayStore
from postergenre.cli import main
from postergenre.data.images import content_hash, read_file
from postergenre.features.canvas import load_canvas, to_batch
from postergenre.features.embeddings import embed, embedding_store
from postergenre.features.producer import (
    Producer,
    load_poster,
    produce_files,
    produce_files_together,
)
from postergenre.features.quantize import calibration_set
from postergenre.features.runtime import open_session
from postergenre.features.specs import BackboneEmbedding, poster_canvas
from postergenre.predict import predict_records
from postergenre.training import TrainConfig

from .conftest import save_image
from .test_train import colour_dataset

BACKBONE = "mobilenet_v2"


@pytest.fixture(scope="module")
def int8_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("int8")
    data = colour_dataset(root / "data", n=45)
    run = root / "run"
    argv = ["train", str(data), "--out", str(run), "--model", "head", "--folds", "3",
            "--min-support", "5", "--backbones", BACKBONE, "--precision", "int8",
            "--cache", str(root / "cache")]
    assert main(argv) == 0
    return root, data, run


def test_calibration_is_seeded_by_content_and_draws_only_training_posters(tmp_path):
    paths = [f"p{i}.webp" for i in range(200)]
    hashes = [f"{i:064x}" for i in range(200)]
    a = calibration_set(paths, hashes, n=16)
    b = calibration_set(paths[::-1], hashes[::-1], n=16)
    assert a == b and len(set(a.hashes)) == 16
    assert calibration_set(paths[:100], hashes[:100], n=16).digest != a.digest

    rows = pd.DataFrame({"path": paths[:6], "sha256": hashes[:6],
                         "train": [True, True, False, True, False, True]})
    source = BackboneEmbedding(BACKBONE, precision="int8")
    seen = {}

    def fake_producer(spec, cache_dir, calibration, **kwargs):
        seen["hashes"] = calibration.hashes
        raise RuntimeError("stop here")

    mp = pytest.MonkeyPatch()
    mp.setattr("postergenre.features.specs.poster.embedding_producer", fake_producer)
    with pytest.raises(RuntimeError, match="stop here"):
        source.producer(source.fit(rows, tmp_path), tmp_path)
    mp.undo()
    assert set(seen["hashes"]) == {hashes[i] for i in (0, 1, 3, 5)}


def test_int8_and_fp32_embeddings_never_read_each_others_rows(int8_run):
    root, data, _ = int8_run
    cache = root / "cache"
    posters = sorted((data / "posters").glob("*.png"))[:6]
    int8_dirs = [p for p in cache.iterdir() if p.name.startswith(f"emb-{BACKBONE}-int8")]
    assert len(int8_dirs) == 1
    # the int8 run left the fp32 store empty: fp32 rows are all computed now, by fp32
    fp32_store = embedding_store(BACKBONE, cache)
    assert len(fp32_store) == 0
    fp32, failed = embed(posters, None, BACKBONE, cache, progress=False)
    assert not failed and len(embedding_store(BACKBONE, cache)) == len(posters)
    # the int8 rows of the same posters are different numbers, read from their own store
    run_doc = json.loads((int8_run[2] / "model" / "bundle.json").read_text())
    calibration = run_doc["inputs"][0]["preprocessing"]["inputs"][
        f"poster:{BACKBONE}@int8"]["calibration"]
    assert int8_dirs[0].name.endswith(calibration["digest"])
    stores = {p.name for p in cache.iterdir() if p.name.startswith(f"emb-{BACKBONE}")}
    assert len(stores) == 2
    _, int8_rows = _keyed_rows(int8_dirs[0])
    assert int8_rows.shape[1] == fp32.shape[1]
    assert not any(np.allclose(r, f) for r in int8_rows for f in fp32)


def test_bundle_carries_the_int8_graph_and_scores_like_training(int8_run):
    root, data, run = int8_run
    bundle = load_bundle(run / "model")
    doc = bundle.meta
    inputs = doc["inputs"][0]["preprocessing"]["inputs"]
    assert list(inputs) == [f"poster:{BACKBONE}@int8"]
    entry = inputs[f"poster:{BACKBONE}@int8"]
    assert entry["precision"] == "int8" and entry["calibration"]["posters"] > 0
    assert doc["model"]["precision"] == "int8"
    graph = onnx.load(str(run / "model" / "model.onnx"))
    ops = {n.op_type for n in graph.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert [i.name for i in graph.graph.input] == ["poster"]
    # the test part was scored through the bundle: predicting the same files agrees
    test = pd.read_csv(run / "predictions_test.csv", dtype={"id": str})
    assert json.loads((run / "metrics.json").read_text())["test"]["macro_map"] > 0.9
    paths = [str(data / "posters" / f"{i}.png") for i in test["id"]]
    got = list(predict_records(bundle, [{"poster": p} for p in paths], paths))
    probs = np.array([[p.probabilities[g] for g in bundle.genres] for p in got])
    np.testing.assert_allclose(probs, test[bundle.genres].to_numpy(), atol=1e-5)
    # the graph that made the cached rows training used is the one the bundle carries
    encoder = open_session(run / "model" / "similar" / f"{BACKBONE}.onnx")
    canvases = [poster_canvas(p) for p in paths[:3]]
    rows = encoder.run(None, {"pixels": to_batch(canvases)})[0]
    store_dir = next((root / "cache").glob(f"emb-{BACKBONE}-int8*"))
    cached = dict(zip(*_keyed_rows(store_dir), strict=True))
    keys = [content_hash(read_file(p)) for p in paths[:3]]
    np.testing.assert_allclose(rows, np.stack([cached[k] for k in keys]), atol=1e-5)


def _keyed_rows(store_dir):
    keys, rows = [], []
    for shard in store_dir.glob("shard-*.npz"):
        with np.load(shard, allow_pickle=False) as z:
            keys += z["keys"].tolist()
            rows.append(z[[k for k in z.files if k != "keys"][0]])
    return keys, np.concatenate(rows)


def test_int8_with_tta_is_refused_in_one_line(capsys, tmp_path):
    with pytest.raises(ValueError, match="fp32"):
        TrainConfig.of(precision="int8", tta=True)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig.of(precision="int4")
    assert main(["train", str(tmp_path), "--precision", "int8", "--tta"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fp32" in err[0]


def test_producers_sharing_a_loader_decode_each_poster_once(tmp_path):
    files = [save_image(tmp_path / f"p{i}.png", seed=i) for i in range(5)]
    (tmp_path / "bad.png").write_bytes(b"not an image")
    files.append(tmp_path / "bad.png")
    loads = []

    def load(job):
        loads.append(job[0])
        return load_poster(job)

    mean = Producer(ArrayStore(tmp_path / "c", "mean", "1"), load,
                    lambda v: np.stack(v).mean(axis=(1, 2)).astype(np.float32), "mean", (3,))
    top = Producer(ArrayStore(tmp_path / "c", "max", "1"), load,
                   lambda v: np.stack(v).max(axis=(1, 2)).astype(np.float32), "max", (3,))
    produce_files_together([mean, top], files, None, progress=False)
    assert len(loads) == 6  # every file read once, for both
    got_mean, failed = produce_files(mean, files, None, progress=False)
    got_top, _ = produce_files(top, files, None, progress=False)
    assert list(failed) == [files[-1]] and "bad.png" not in str(failed[files[-1]])
    assert len(loads) == 8  # only the bad file again, once per producer, to say why
    canvases = [load_canvas(f) for f in files[:-1]]
    np.testing.assert_allclose(got_mean, [c.mean(axis=(0, 1)) for c in canvases], rtol=1e-6)
    np.testing.assert_array_equal(got_top, [c.max(axis=(0, 1)) for c in canvases])

