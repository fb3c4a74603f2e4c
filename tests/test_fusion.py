"""Title, year and plot as inputs: the text encoder, bad metadata, the cache, and one fused
bundle that serves a bare poster as well as a poster with everything."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from postergenre.cli import main
from postergenre.features import text as text_module
from postergenre.features.specs import FIELDS, title
from postergenre.features.specs.year import YearInput
from postergenre.features.terms import COUNT
from postergenre.features.text import MiniLM, clean, token_ids
from postergenre.features.year import encode, parse_year

from .test_train import colour_dataset

WORDS = {"Horror": "Night of the Dead", "Drama": "A Quiet Life", "Comedy": "Laugh Out Loud"}


def test_minilm_embeds_meaning_and_empty_text_is_zero():
    texts = ["a horror movie about ghosts", "scary haunted house film",
             "romantic comedy in paris", ""]
    with torch.no_grad():
        e = MiniLM()(torch.from_numpy(token_ids([clean(t) for t in texts], 32))).numpy()
    np.testing.assert_allclose(np.linalg.norm(e[:3], axis=1), 1, atol=1e-5)
    assert not e[3].any()  # no tokens: zeros, i.e. "absent"
    sim = e @ e.T
    assert sim[0, 1] > 0.7 and sim[0, 1] > sim[0, 2] + 0.3


@pytest.mark.parametrize("value, present", [
    ("", False), ("   \n\t ", False), (None, False), (b"caf\xe9 \xff", True),
    ("\U0001F600", True), ("x" * 100_000, True), (float("nan"), False), ("Alien", True),
])
def test_text_field_handles_bad_values(value, present):
    row = FIELDS["title"].prepare(value) if value is not None else None
    assert (row is not None) == present
    if row is not None:
        assert row.shape == (32,) and row.dtype == np.int64 and row[0] == 101


@pytest.mark.parametrize("value, present", [
    ("", False), ("   \n\t ", False), (None, False), (b"caf\xe9 \xff", True),
    ("\U0001F600", True), (float("nan"), False), ("A crew meets a creature.", True),
])
def test_plot_field_handles_bad_values(value, present):
    row = FIELDS["plot"].prepare(value) if value is not None else None
    assert (row is not None) == present
    if row is not None:
        assert row.ndim == 1 and row.dtype == np.int64 and len(row) and (row > 0).all()
        assert (np.diff(row) > 0).all()  # one sorted id per distinct term


def test_long_plots_become_capped_term_counts():
    ids = FIELDS["plot"].prepare("word " * 60_000)
    assert len(ids) < 20 and (ids % COUNT).max() == COUNT - 1  # few terms, counts capped
    batch = FIELDS["plot"].batch([ids, FIELDS["plot"].absent()])
    assert batch.shape == (2, len(ids)) and FIELDS["plot"].present(
        torch.from_numpy(batch)).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("value, year, warned", [
    ("1979", 1979, False), (1979.0, 1979, False), ("1999-05-01", 1999, False), (0, 0, True),
    (3000, 0, True), ("n/a", 0, True), ("", 0, False), (None, 0, False), (float("nan"), 0, False),
])
def test_absurd_years_are_missing_with_a_reason(value, year, warned):
    got, why = parse_year(value)
    assert got == year and (why is not None) == warned
    enc = encode(np.array([got], np.float32))
    assert enc.shape == (1, 14) and (enc.any() == bool(year))


def test_years_a_decade_apart_look_alike():
    e = encode(np.array([1970, 1972, 2015], np.float32))
    assert np.linalg.norm(e[0] - e[1]) < 0.3 * np.linalg.norm(e[0] - e[2])


def test_sources_mask_missing_values_and_cache_texts(tmp_path, monkeypatch):
    rows = pd.DataFrame({"id": ["a", "b", "c"], "title": ["Alien", "", None],
                         "year": [1979, "n/a", 3000],
                         "plot": [None, "A crew meets a creature.", ""]})
    title_rows, mask, _ = title.minilm().make(None, rows, tmp_path, False, None)
    assert mask.tolist() == [True, False, False] and not title_rows[1:].any()
    years, ymask, why = YearInput().make(None, rows, tmp_path, False, None)
    assert ymask.tolist() == [True, False, False] and set(why) == {"b", "c"}

    def no_encoder(*args, **kwargs):
        raise AssertionError("texts were encoded again")

    monkeypatch.setattr("postergenre.features.runtime.open_session", no_encoder)
    again, _, _ = title.minilm().make(None, rows, tmp_path, False, None)
    np.testing.assert_array_equal(again, title_rows)


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    """A fusion run on coloured posters whose titles and plots also name the genre."""
    root = tmp_path_factory.mktemp("fusion")
    data = colour_dataset(root / "data", n=60)
    genres = pd.read_csv(data / "genres.csv")
    rng = np.random.default_rng(0)
    rows = []
    for i, r in genres.iterrows():
        main_genre = r["genres"].split("|")[0]
        rows.append({"imdb_id": r["imdb_id"],
                     "title": f"{WORDS[main_genre]} {i}" if rng.random() < 0.8 else "",
                     "year": int(rng.integers(1950, 2020)) if i % 9 else 3000,
                     "plot": f"A story of {main_genre.lower()}." if rng.random() < 0.4 else None})
    pd.DataFrame(rows).to_csv(data / "movies.csv", index=False)
    run = root / "run"
    argv = ["train", str(data), "--out", str(run), "--model", "fusion", "--folds", "3",
            "--min-support", "5", "--backbones", "mobilenet_v2", "--cache", str(root / "cache")]
    assert main(argv) == 0
    return root, data, run


def test_fused_bundle_declares_optional_inputs_and_scores_the_test_part(fused):
    _, data, run = fused
    meta = json.loads((run / "model" / "bundle.json").read_text())
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert set(inputs) == {"poster", "title", "year", "plot"}
    assert inputs["poster"]["required"] and not inputs["title"]["required"]
    # the plot is read as TF-IDF genre scores (MiniLM reads the title only)
    assert list(inputs["plot"]["preprocessing"]["inputs"]) == ["plot:tfidf"]
    assert list(inputs["title"]["preprocessing"]["inputs"]) == ["title:minilm"]
    m = json.loads((run / "metrics.json").read_text())
    assert [n for n in m["model"]["inputs"] if n.startswith("plot")] == ["plot:tfidf"]
    movies = pd.read_csv(data / "movies.csv")
    with_plot = int(movies["plot"].notna().sum())
    assert f"plot:tfidf: {with_plot} of {len(movies)} movies have it" in m["data"]["inputs"]
    assert m["test"]["macro_map"] > 0.9
    assert any("year:encoding: " in n and "treated as missing" in n for n in m["data"]["inputs"])
    table = m["ablation"]
    assert list(table) == ["poster", "poster+title", "poster+year", "poster+plot",
                           "poster+title+year", "poster+title+year+plot"]
    everything = table["poster+title+year+plot"]
    assert everything["all"]["n"] == everything["with plot"]["n"] + everything["without plot"]["n"]
    assert everything["all"]["n"] == m["data"]["n_test"]


def test_predict_with_and_without_metadata(fused, capsys):
    _, data, run = fused
    poster = sorted((data / "posters").glob("*.png"))[0]
    capsys.readouterr()
    assert main(["predict", str(run / "model"), str(poster), "--json"]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert bare["inputs"] == ["poster"]
    assert main(["predict", str(run / "model"), str(poster), "--title", "Night of the Dead",
                 "--year", "3000", "--plot", "  ", "--json"]) == 0
    out = capsys.readouterr()
    fed = json.loads(out.out)
    assert fed["inputs"] == ["poster", "title"]  # the absurd year and empty plot are left out
    assert "note: year '3000' is outside" in out.err and "Traceback" not in out.err
    assert fed["probabilities"] != bare["probabilities"]
    assert main(["predict", str(run / "model"), str(poster), "--title", "Night of the Dead",
                 "--plot", "A story of comedy.", "--json"]) == 0
    plotted = json.loads(capsys.readouterr().out)
    assert plotted["inputs"] == ["poster", "title", "plot"]  # its TF-IDF scores, in the graph
    assert plotted["probabilities"]["Comedy"] > fed["probabilities"]["Comedy"]
    assert main(["predict", str(run / "model"), str(poster), "--metadata",
                 str(data / "movies.csv"), "--json"]) == 0
    assert "title" in json.loads(capsys.readouterr().out)["inputs"]


def test_metadata_table_matching_nothing_is_one_line(fused, tmp_path, capsys):
    _, data, run = fused
    poster = sorted((data / "posters").glob("*.png"))[0]
    table = tmp_path / "meta.csv"
    pd.DataFrame({"imdb_id": ["tt9999999"], "title": ["Nothing"]}).to_csv(table, index=False)
    capsys.readouterr()
    assert main(["predict", str(run / "model"), str(poster), "--metadata", str(table)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matches a poster file name" in err[0] and "meta.csv" in err[0]
    assert main(["predict", str(run / "model"), str(poster), str(poster), "--title", "x"]) == 2


def test_a_second_train_encodes_and_fits_no_text(fused, monkeypatch):
    root, data, _ = fused
    calls = []
    real = text_module.text_producer

    def counting(*args, **kwargs):
        producer = real(*args, **kwargs)
        transform = producer.transform

        def counted(ids):
            calls.append(len(ids))
            return transform(ids)

        return type(producer)(**{**producer.__dict__, "transform": counted})

    monkeypatch.setattr("postergenre.features.specs.minilm.text_producer", counting)

    def no_fit(*args, **kwargs):
        raise AssertionError("the plot's TF-IDF was fitted again")

    monkeypatch.setattr("postergenre.features.terms.fit", no_fit)
    argv = ["train", str(data), "--out", str(root / "again"), "--model", "fusion", "--folds",
            "3", "--min-support", "5", "--backbones", "mobilenet_v2", "--cache",
            str(root / "cache")]
    assert main(argv) == 0
    assert calls == []
