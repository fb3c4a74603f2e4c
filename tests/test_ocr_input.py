"""The poster's printed text as a fusion input (``train --ocr``): read once per poster,
declared in the bundle, read again by ``predict`` from the poster alone."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageFont

from postergenre.cli import main
from postergenre.features.engine import ProcessEngine
from postergenre.features.ocr import ocr_producer
from postergenre.training.ablation import subsets

WORDS = {"Horror": "HORROR", "Comedy": "COMEDY", "Drama": "DRAMA"}


def word_poster(path, word: str, seed: int) -> None:
    """A grey poster with noise (so every file differs) and one big printed word."""
    rng = np.random.default_rng(seed)
    arr = np.clip(200 + rng.normal(0, 8, (268, 182, 3)), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    ImageDraw.Draw(im).text((12, 110), word, fill=(0, 0, 0), font=ImageFont.load_default(size=30))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


@pytest.fixture(scope="module")
def ocr_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocr")
    data = root / "data"
    rows = []
    for i in range(30):
        genre = list(WORDS)[i % 3]
        word_poster(data / "posters" / f"tt{i:04d}.png", WORDS[genre], i)
        rows.append({"imdb_id": f"tt{i:04d}", "genres": genre, "title": f"Film {i}"})
    pd.DataFrame(rows).to_csv(data / "genres.csv", index=False)
    run = root / "run"
    argv = ["train", str(data), "--out", str(run), "--ocr", "--folds", "3", "--min-support", "5",
            "--backbones", "mobilenet_v2", "--cache", str(root / "cache")]
    assert main(argv) == 0
    return root, data, run


def test_ocr_is_read_declared_and_scored(ocr_run):
    _, _, run = ocr_run
    doc = json.loads((run / "model" / "bundle.json").read_text())
    declared = {i["name"]: i for i in doc["inputs"]}
    assert declared["ocr"]["type"] == "text" and not declared["ocr"]["required"]
    assert "rapidocr" in declared["ocr"]["preprocessing"]["derived"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert "ocr:minilm" in metrics["model"]["inputs"]
    notes = " ".join(metrics["data"]["inputs"])
    assert "ocr:minilm: 30 of 30 movies have it" in notes
    rows = metrics["ablation"]
    assert "poster+title+ocr" in rows and "poster+title" in rows and "poster+ocr" in rows
    cv = metrics["ablation_cv"]  # the same rows over the CV rounds' scored folds
    assert set(cv) == set(rows)
    folds = [f["macro_map"] for f in metrics["cv"]["folds"]]
    assert cv["poster+title+ocr"]["macro_map"]["mean"] == pytest.approx(np.mean(folds))
    assert cv["poster+title+ocr"]["macro_map"]["std"] == pytest.approx(np.std(folds))


def test_predict_reads_the_poster_text_itself(ocr_run, capsys):
    _, data, run = ocr_run
    poster = data / "posters" / "tt0000.png"
    assert main(["predict", str(run / "model"), str(poster), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert "ocr" in out["inputs"] and "poster" in out["inputs"]


def text_store(cache) -> dict[str, tuple[int, int]]:
    """The poster-text store's files: {name: (size, mtime)}. Text read anew is stored here as
    a new shard, whichever process read it (workers send their rows back to be stored)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns)
            for p in ocr_producer(cache).store.dir.iterdir()}


def test_a_second_train_reads_no_poster_text(ocr_run, monkeypatch):
    root, data, _ = ocr_run
    cache = root / "cache"
    assert len(ocr_producer(cache).store) == 30  # the first train stored every poster's text
    before = text_store(cache)

    def no_reading(*args, **kwargs):
        raise AssertionError("a poster's text was read again")

    # posters are read here (a batch or less) or by worker processes that ProcessEngine.run
    # starts; spawned, they would not see a patched ocr_text
    monkeypatch.setattr("postergenre.features.ocr.ocr_text", no_reading)
    monkeypatch.setattr(ProcessEngine, "run", no_reading)
    argv = ["train", str(data), "--out", str(root / "again"), "--ocr", "--folds", "3",
            "--min-support", "5", "--backbones", "mobilenet_v2", "--cache", str(cache),
            "--cv-rounds", "1"]
    assert main(argv) == 0
    assert text_store(cache) == before


def test_ablation_rows_show_what_ocr_adds():
    assert subsets(["title", "year", "plot", "ocr"])[-2:] == [
        ("title", "year", "plot"), ("title", "year", "plot", "ocr")]
    assert subsets(["title", "year", "plot"])[-1] == ("title", "year", "plot")
