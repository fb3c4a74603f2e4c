"""``postergenre report``: every number traceable to metrics.json, reproducible bootstrap
intervals, one self-contained file, and a page that a real browser renders."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from postergenre.cli import main
from postergenre.evaluation import compute_metrics
from postergenre.evaluation.bootstrap import (
    METRIC_KEYS,
    PER_GENRE_KEYS,
    bootstrap_intervals,
    resample_counts,
    weighted_metrics,
)
from postergenre.evaluation.metrics import HEADLINE
from postergenre.report import build_leaderboard, build_report
from postergenre.report.figures import genre_colours
from postergenre.report.html import Numbers
from postergenre.report.load import load_run
from postergenre.report.model import ablation
from postergenre.training.record import RunRecord

from .test_train import colour_dataset

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny finished run on the colour posters and its report."""
    tmp = tmp_path_factory.mktemp("report")
    data = colour_dataset(tmp / "data")
    run = tmp / "runs" / "tiny"
    assert main(["train", str(data), "--out", str(run), "--split", str(tmp / "split.json"),
                 "--folds", "3", "--min-support", "5", "--backbones", "mobilenet_v2",
                 "--cache", str(tmp / "cache")]) == 0
    out = build_report(run, tmp / "report.html")
    return run, out, json.loads((run / "metrics.json").read_text())


def lookup(doc, path):
    """The value at a JSON path of a document (``metrics.json``)."""
    for key in path:
        doc = doc[key]
    return doc


class Tags(HTMLParser):
    """Every tagged number (its attributes and shown text), every src/href, every chip."""

    def __init__(self):
        super().__init__()
        self.numbers: list[dict] = []
        self.links: list[tuple[str, str, str]] = []
        self.chip_colours: list[str] = []
        self.data_block = ""
        self._open: list[dict | None] = []
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("src", "href"):
            if name in a:
                self.links.append((tag, name, a[name]))
        if tag == "i" and "style" in a:
            self.chip_colours.append(a["style"].split("background:")[1])
        self._in_data = a.get("id") == "report-data"
        entry = {**a, "text": ""} if tag == "span" and "data-value" in a else None
        if entry is not None:
            self.numbers.append(entry)
        if tag == "span":
            self._open.append(entry)

    def handle_endtag(self, tag):
        if tag == "span" and self._open:
            self._open.pop()
        self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data_block += data
        for entry in self._open:
            if entry is not None:
                entry["text"] += data


def parse(path: Path) -> Tags:
    tags = Tags()
    tags.feed(path.read_text(encoding="utf-8"))
    return tags


def shown_matches(text: str, value) -> bool:
    """The shown text is the value, rounded as displayed."""
    if value is None:
        return text == "–"
    text = text.replace(",", "")
    if text.endswith("%"):
        return abs(float(text[:-1]) - 100 * value) <= 0.05 + 1e-9
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -decimals + 1e-9


def test_every_metric_shown_equals_metrics_json(built):
    run, out, metrics = built
    tags = parse(out)
    shown = [n for n in tags.numbers if "data-metric" in n]
    assert len(shown) > 100
    for n in shown:
        path = json.loads(n["data-metric"])
        value = json.loads(n["data-value"])
        assert value == lookup(metrics, path), path
        assert shown_matches(n["text"], value), (path, n["text"], value)
    paths = {tuple(json.loads(n["data-metric"])) for n in shown}
    for key, _, _ in HEADLINE:
        assert ("test", key) in paths
        assert ("cv", "summary", "metrics", key, "mean") in paths
        for baseline in metrics["baselines"]:
            assert ("baselines", baseline, key) in paths
    for g in metrics["data"]["genres"]:
        for key in ("support", "ap", "roc_auc", "f1", "precision", "recall"):
            assert ("test", "per_genre", g, key) in paths


def test_derived_numbers_are_recorded_and_colours_are_one_per_genre(built):
    run, out, metrics = built
    tags = parse(out)
    data = json.loads(tags.data_block)
    derived = [n for n in tags.numbers if "data-derived" in n]
    assert derived
    for n in derived:
        value = json.loads(n["data-value"])
        assert data["derived"][n["data-derived"]] == value
        assert shown_matches(n["text"], value), (n["data-derived"], n["text"])
    genres = metrics["data"]["genres"]
    assert data["colours"] == genre_colours(genres)
    assert set(tags.chip_colours) <= set(data["colours"].values()) | {"#9e9e9e"}
    assert len(set(genre_colours([f"g{i}" for i in range(27)]).values())) == 27


def test_bootstrap_is_seeded_and_covers_the_test_figures(built):
    run_dir, out, metrics = built
    run = load_run(run_dir)
    a = bootstrap_intervals(run.y, run.prob, run.pred, run.genres, 500, seed=7)
    assert a == bootstrap_intervals(run.y, run.prob, run.pred, run.genres, 500, seed=7)
    assert a != bootstrap_intervals(run.y, run.prob, run.pred, run.genres, 500, seed=8)
    for key in METRIC_KEYS:
        low, high = a["metrics"][key]
        assert low <= metrics["test"][key] <= high, key
    for g in run.genres:
        low, high = a["per_genre"][g]["ap"]
        assert low <= metrics["test"]["per_genre"][g]["ap"] <= high
    # the report's intervals are these, with its default seed and count
    derived = json.loads(parse(out).data_block)["derived"]
    ci = bootstrap_intervals(run.y, run.prob, run.pred, run.genres, 1000, seed=0)
    assert derived["ci.test.macro_map.low"] == ci["metrics"]["macro_map"][0]
    assert derived["ci.test.macro_map.high"] == ci["metrics"]["macro_map"][1]


def test_unit_weights_give_the_run_s_own_test_metrics(built):
    run_dir, _, metrics = built
    run = load_run(run_dir)
    values = weighted_metrics(run.y, run.prob, run.pred, np.ones((1, len(run.y)), np.float32))
    for key in METRIC_KEYS:  # ECE and Brier sum the probabilities as the CSV wrote them
        tolerance = 1e-7 if key in ("ece", "brier") else 1e-9
        assert values[key][0] == pytest.approx(metrics["test"][key], abs=tolerance), key
    for j, g in enumerate(run.genres):
        for key in PER_GENRE_KEYS:
            assert values[key][0, j] == pytest.approx(metrics["test"]["per_genre"][g][key],
                                                      abs=1e-9), (g, key)


def test_resampled_weights_equal_metrics_of_the_resampled_rows():
    """Ties, rare genres and a genre that a resample may miss, against scikit-learn."""
    rng = np.random.default_rng(1)
    y = (rng.random((150, 5)) < [0.5, 0.3, 0.1, 0.02, 0.9]).astype(int)
    prob = np.round(rng.random((150, 5)) * 0.5 + 0.4 * y, 2)
    pred = prob > 0.45
    genres = list("abcde")
    w = resample_counts(len(y), 6, seed=3)
    values = weighted_metrics(y, prob, pred, w)
    for b in range(len(w)):
        rows = np.repeat(np.arange(len(y)), w[b].astype(int))
        expected = compute_metrics(y[rows], prob[rows], pred[rows], genres)
        for key in METRIC_KEYS:
            got = values[key][b]
            assert (np.isnan(got) if expected[key] is None
                    else got == pytest.approx(expected[key], abs=1e-9)), key
        for j, g in enumerate(genres):
            for key in PER_GENRE_KEYS:
                want, got = expected["per_genre"][g][key], values[key][b, j]
                assert np.isnan(got) if want is None else got == pytest.approx(want, abs=1e-9)


def test_the_file_is_self_contained(built):
    _, out, _ = built
    tags = parse(out)
    assert tags.links
    for tag, attr, value in tags.links:
        assert not value.lower().startswith(("http:", "https:", "//")), (tag, attr, value[:80])
        if tag == "img":
            assert value.startswith(("data:image/png;base64,", "data:image/webp;base64,"))
        else:
            assert value.startswith("#"), value
    text = out.read_text(encoding="utf-8")
    assert "<link" not in text and "<script src" not in text and "@import" not in text
    assert out.stat().st_size < 15 * 2**20


def test_ablation_is_shown_when_recorded_and_explained_when_not(built):
    run_dir, _, metrics = built
    run = load_run(run_dir)
    assert "one input" in ablation(run, Numbers(run.record))
    several = json.loads(json.dumps(metrics))
    several["model"]["inputs"] = ["poster:a", "poster:b"]
    run.record = RunRecord.from_json(several)
    assert "none of them is optional" in ablation(run, Numbers(run.record))
    several["ablation"] = {"poster+title": {"all": {"macro_map": 0.5, "macro_f1": 0.25,
                                                    "micro_f1": 0.125, "n": 9}}}
    run.record = RunRecord.from_json(several)
    html = ablation(run, Numbers(run.record))
    assert 'data-metric="[&quot;ablation&quot;, &quot;poster+title&quot;, &quot;all&quot;, ' \
           '&quot;macro_map&quot;]"' in html and ">0.500<" in html and ">0.125<" in html


def test_report_without_the_dataset_still_has_every_model_section(built, tmp_path):
    run_dir, _, metrics = built
    out = build_report(run_dir, tmp_path / "r.html", data_dir=tmp_path / "gone", n_boot=200)
    text = out.read_text(encoding="utf-8")
    assert "could not be read" in text and "data:image/webp" not in text
    for anchor in ("model", "caveats", "data", "per-genre", "diagnostics", "examples"):
        assert f'id="{anchor}"' in text


def test_leaderboard_numbers_come_from_each_run(built, tmp_path):
    run_dir, _, metrics = built
    out = build_leaderboard(run_dir.parent, tmp_path / "board.html")
    tags = parse(out)
    runs = [n for n in tags.numbers if "data-run" in n]
    assert runs and {n["data-run"] for n in runs} == {str(run_dir)}
    for n in runs:
        path = json.loads(n["data-metric"])
        assert json.loads(n["data-value"]) == lookup(metrics, path)
        assert shown_matches(n["text"], json.loads(n["data-value"]))
    assert not [v for _, _, v in tags.links if v.startswith(("http:", "https:"))]


def test_cli_writes_reports_and_refuses_bad_input_in_one_line(built, tmp_path, capsys):
    run_dir, _, _ = built
    assert main(["report", str(run_dir), "--out", str(tmp_path / "a.html"),
                 "--bootstrap", "200"]) == 0
    assert (tmp_path / "a.html").stat().st_size > 50_000
    assert main(["report", "--runs", str(run_dir.parent), "--out", str(tmp_path / "b.html")]) == 0
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run_dir, unfinished)
    (unfinished / "COMPLETE").unlink()
    capsys.readouterr()
    for argv in (["report"], ["report", str(run_dir), "--runs", str(run_dir.parent)],
                 ["report", str(unfinished)], ["report", str(run_dir), "--out", str(tmp_path)],
                 ["report", str(run_dir), "--bootstrap", "5"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("error:"), (argv, err)


def test_chromium_opens_the_report_from_disk(built, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from PIL import Image

    _, out, _ = built
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=tmp_path / "top.png")
        page.locator("#per-genre").screenshot(path=tmp_path / "per-genre.png")
        broken = page.evaluate("[...document.images].filter(i => !i.naturalWidth).length")
        title = page.title()
        browser.close()
    assert broken == 0 and title.startswith("postergenre report")
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    for name, min_height in (("top.png", 900), ("per-genre.png", 600)):
        shot = tmp_path / name
        assert shot.stat().st_size > 30_000
        with Image.open(shot) as im:
            assert im.width >= 1000 and im.height >= min_height
            colours = im.convert("RGB").resize((64, 64)).getcolors(64 * 64)
            assert len(colours) > 50  # not a blank page


def test_a_run_whose_record_is_invalid_is_refused_with_file_and_key(built, tmp_path, capsys):
    run_dir, _, metrics = built
    runs = tmp_path / "runs"
    shutil.copytree(run_dir, runs / "good")
    bad = shutil.copytree(run_dir, runs / "bad")
    broken = json.loads(json.dumps(metrics))
    broken["test"]["macro_map"] = "inf"
    (bad / "metrics.json").write_text(json.dumps(broken))
    capsys.readouterr()
    assert main(["report", str(bad), "--out", str(tmp_path / "bad.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {bad / 'metrics.json'}: test.macro_map must be a finite number, "
                   "not 'inf'")
    assert not (tmp_path / "bad.html").exists()
    (bad / "metrics.json").write_text(json.dumps(metrics))
    (bad / "history.json").write_text('{"folds": [[{"epoch": NaN}]], "final": []}')
    assert main(["report", str(bad), "--out", str(tmp_path / "bad.html")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {bad / 'history.json'}: folds[0][0].epoch must be a finite number, not nan")
    # the leaderboard of the folder lists the good run and names the bad one's file and key
    (bad / "metrics.json").write_text(json.dumps(broken))
    out = build_leaderboard(runs, tmp_path / "board.html")
    tags = parse(out)
    assert {n["data-run"] for n in tags.numbers if "data-run" in n} == {str(runs / "good")}
    text = out.read_text(encoding="utf-8")
    assert (f"Not listed: {bad}: metrics.json: test.macro_map must be a finite number, not "
            "&#x27;inf&#x27;") in text
