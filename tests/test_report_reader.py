"""The report as its readers get it: the same file from any working folder, a plain word when
the data is gone, examples that follow the decisions, the ablation's CV figures, heatmap
numbers big enough to read, and no serious accessibility fault (axe-core in Chromium)."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from postergenre.cli import main
from postergenre.report.examples import examples_section
from postergenre.report.figures import DPI, LABEL_PT, PAGE_PX, heatmap
from postergenre.report.html import Numbers
from postergenre.report.load import load_run
from postergenre.report.model import ablation
from postergenre.training.record import RunRecord

from .test_train import colour_dataset

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with a dataset and a run trained there with relative paths, as
    ``postergenre train data --out runs/tiny`` from the project folder records them; and
    another working folder beside it."""
    tmp = tmp_path_factory.mktemp("reader")
    home, elsewhere = tmp / "project", tmp / "elsewhere"
    colour_dataset(home / "data")
    elsewhere.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        assert main(["train", "data", "--out", "runs/tiny", "--split", "runs/split.json",
                     "--folds", "3", "--min-support", "5", "--backbones", "mobilenet_v2",
                     "--cache", "cache"]) == 0
    return home, elsewhere


def report_from(folder: Path, run: str, out: Path, *more: str) -> str:
    """``postergenre report RUN --out OUT`` run in ``folder``; the HTML it wrote."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        assert main(["report", run, "--out", str(out), "--bootstrap", "200", *more]) == 0
    return out.read_text(encoding="utf-8")


def test_the_report_made_from_another_folder_equals_the_one_made_from_the_project(
        project, capsys):
    home, elsewhere = project
    metrics = json.loads((home / "runs/tiny/metrics.json").read_text())
    assert metrics["data"]["dataset"] == str((home / "data").resolve())
    here = report_from(home, "runs/tiny", home / "here.html")
    there = report_from(elsewhere, "../project/runs/tiny", elsewhere / "there.html")
    assert "--data" not in capsys.readouterr().err
    assert here == there  # byte for byte
    assert here.count("data:image/webp") > 20  # the data section's and examples' posters
    assert "Posters per year" in here and 'class="warning"' not in here


def test_an_older_run_with_a_relative_dataset_path_finds_it_from_the_run_folder(project, capsys):
    home, elsewhere = project
    old = home / "runs" / "old"
    shutil.copytree(home / "runs/tiny", old)
    metrics = json.loads((old / "metrics.json").read_text())
    metrics["data"]["dataset"] = "data"  # relative to the project folder, where train ran
    (old / "metrics.json").write_text(json.dumps(metrics))
    assert not (old / "split.json").exists()  # only the recorded, relative split file
    assert metrics["split"]["file"] == "runs/split.json"
    text = report_from(elsewhere, str(old), elsewhere / "old.html")
    assert "--data" not in capsys.readouterr().err
    assert text.count("data:image/webp") > 20 and 'class="warning"' not in text
    assert "split file is gone" not in text


def test_data_that_cannot_be_found_is_said_on_stderr_and_at_the_top(project, capsys):
    home, elsewhere = project
    lost = home / "runs" / "lost"
    shutil.copytree(home / "runs/tiny", lost)
    metrics = json.loads((lost / "metrics.json").read_text())
    metrics["data"]["dataset"] = str(home / "moved-away")
    (lost / "metrics.json").write_text(json.dumps(metrics))
    text = report_from(elsewhere, str(lost), elsewhere / "lost.html")
    notes = [line for line in capsys.readouterr().err.splitlines() if "--data" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ") and "moved-away" in notes[0]
    top = text.index('<div class="warning" role="note">')
    assert top < text.index("<section") and "--data" in text[top:text.index("<section")]
    assert "data:image/webp" not in text
    # and with --data the report is whole again, with nothing to warn about
    text = report_from(elsewhere, str(lost), elsewhere / "found.html", "--data",
                       str(home / "data"))
    assert "--data" not in capsys.readouterr().err
    assert 'class="warning"' not in text and text.count("data:image/webp") > 20


def shown_examples(html: str) -> dict[tuple[str, str], list[str]]:
    """{(genre, "right" | "wrong" | "missed"): poster ids in order} of the examples HTML."""
    out = {}
    for block in html.split("<h3>")[1:]:
        genre = re.search(r"</i>([^<]+)</span>", block).group(1)
        for kind, column in re.findall(r'<h4 class="(\w+)">[^<]*</h4>(.*?)(?=<h4 |$)', block):
            out[genre, kind] = re.findall(r'data-id="([^"]+)"', column)
    return out


def test_examples_follow_the_decisions_not_the_probabilities(project):
    home, _ = project
    run = load_run(home / "runs/tiny")
    n, genres = len(run.ids), run.genres
    rng = np.random.default_rng(0)
    run.y = (rng.random((n, len(genres))) < 0.4).astype(np.int8)
    run.prob = rng.random((n, len(genres)))
    # decisions that ignore the most probable half of each genre's posters: a rule with a cap
    run.pred = (run.prob > 0.3) & (run.prob < 0.8)
    shown = shown_examples(examples_section(run, Numbers(run.record), {}))
    row = {movie: i for i, movie in enumerate(run.ids)}
    for j, g in enumerate(genres):
        prob, true, decided = run.prob[:, j], run.y[:, j] == 1, run.pred[:, j]
        for kind, want, sign in (("right", decided & true, -1), ("wrong", decided & ~true, -1),
                                 ("missed", ~decided & true, 1)):
            ids = shown[g, kind]
            expected = sorted(np.flatnonzero(want), key=lambda i: sign * prob[i])[:4]
            assert [row[m] for m in ids] == expected, (g, kind)
            assert ids, (g, kind)  # the fixture has some of each


def test_the_ablation_table_shows_the_cv_mean_and_std(project):
    home, _ = project
    run = load_run(home / "runs/tiny")
    metrics = json.loads((home / "runs/tiny/metrics.json").read_text())
    metrics["model"]["inputs"] = ["poster:a", "title:b"]
    metrics["ablation"] = {label: {"all": {"macro_map": 0.5, "macro_f1": 0.25,
                                           "micro_f1": 0.125, "n": 9}}
                           for label in ("poster", "poster+title")}
    metrics["ablation_cv"] = {"poster+title": {
        "macro_map": {"mean": 0.4, "std": 0.05}, "macro_f1": {"mean": 0.3, "std": 0.02},
        "micro_f1": {"mean": 0.35, "std": 0.01}}}  # the "poster" row has none
    run.record = RunRecord.from_json(metrics)
    html = ablation(run, Numbers(run.record))
    rows = html.split("<tr>")[2:]
    assert len(rows) == 2 and "CV mean ± std" in html

    def tag(*path):
        return 'data-metric="' + json.dumps(list(path)).replace('"', "&quot;") + '"'

    with_cv = rows[1]
    for key, mean, std in (("macro_map", "0.400", "0.050"), ("micro_f1", "0.350", "0.010")):
        assert tag("ablation_cv", "poster+title", key, "mean") in with_cv
        assert re.search(rf">{mean}</span> ± <span [^>]*{key}[^>]*std[^>]*>{std}<", with_cv)
    assert "ablation_cv" not in rows[0] and rows[0].count("<td>–</td>") == 9


def test_heatmap_numbers_are_read_at_the_size_of_the_labels():
    """A 27-genre grid fits the report's width unshrunk, every % in it at 12 px or more."""
    genres = [f"Genre-name-{i}" for i in range(27)]
    share = np.random.default_rng(0).random((27, 27))
    fig = heatmap(share, genres, genres, "Blues", ("x", "y", "title"))
    width_px = fig.get_figwidth() * DPI
    assert width_px <= PAGE_PX
    fig.canvas.draw()
    ax = fig.axes[0]
    assert len(ax.texts) == np.sum(share >= 0.005)
    px = [t.get_fontsize() * DPI / 72 for t in ax.texts]
    assert min(px) >= 12 and LABEL_PT * DPI / 72 >= 12
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= LABEL_PT
    # each number fits its cell: a cell is wider than "100" at that size
    cell_px = ax.get_window_extent().width / 27
    assert cell_px >= 3 * 0.6 * max(px)
    # past 30 genres no numbers, a colour bar instead
    many = [f"g{i}" for i in range(31)]
    fig = heatmap(np.full((31, 31), 0.5), many, many, "Blues", ("x", "y", "t"))
    assert not fig.axes[0].texts and len(fig.axes) == 2


def test_axe_finds_no_serious_or_critical_fault_and_a_screenshot_is_kept(project, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    home, _ = project
    lost = home / "runs" / "lost-a11y"
    shutil.copytree(home / "runs/tiny", lost)
    metrics = json.loads((lost / "metrics.json").read_text())
    metrics["data"]["dataset"] = "nowhere"
    (lost / "metrics.json").write_text(json.dumps(metrics))
    report_from(home, "runs/tiny", tmp_path / "report.html")
    report_from(home, str(lost), tmp_path / "lost.html")
    faults = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        for file, width in itertools.product(("report", "lost"), (1280, 390)):  # and a phone
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto((tmp_path / f"{file}.html").as_uri())
            page.wait_for_load_state("load")
            found = axe.Axe().run(page).response["violations"]
            faults[file, width] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                                   for v in found if v["impact"] in ("serious", "critical")]
            page.screenshot(path=tmp_path / f"{file}-{width}.png", full_page=width > 1000)
            page.close()
        browser.close()
    assert faults == dict.fromkeys(faults, []) and len(faults) == 4
    assert (tmp_path / "report-1280.png").stat().st_size > 100_000
