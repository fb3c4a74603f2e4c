"""Metadata at predict time gets the training table's care: one rule for text (bytes that are
not UTF-8 read as U+FFFD, at most ``MAX_TEXT_CHARS`` characters, the same at train time, in
``predict`` and in the API), one rule for an id in several rows (merged field by field, a
disagreement left out, with a note), a one-line error for a table with no usable column, and
the column options ``train`` has. Each case: exit code, one line or note naming the file or
option, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from postergenre.data.dataset import load_dataset
from postergenre.features.specs import FIELDS
from postergenre.features.text import MAX_TEXT_CHARS, clean
from postergenre.serve.limits import Limits

from .bundles import build_bundle, poster
from .test_fusion import fused  # noqa: F401 - a fusion run reading title, year and plot
from .test_hostile import one_line
from .test_hostile import run as run_cli
from .test_train import colour_dataset


def answer(capsys, model: Path, *argv) -> tuple[dict, str]:
    """``predict --json`` of one poster: its answer and stderr."""
    code, out, err = run_cli(capsys, ["predict", model, *argv, "--json"])
    assert code == 0, err
    return json.loads(out), err


def test_one_text_rule_for_bytes_surrogates_and_length():
    assert clean(b"Am\xe9lie") == clean("Am\udce9lie") == "Am\ufffdlie"  # bytes, a command line
    assert clean("x\ud800y") == "x\ufffdy"  # a JSON escape
    long = "word " * (MAX_TEXT_CHARS // 4)
    assert clean(long) == clean(long[:MAX_TEXT_CHARS])
    for name in ("title", "plot"):  # train and predict prepare a text through ``clean``
        assert (FIELDS[name].prepare(long) == FIELDS[name].prepare(long[:MAX_TEXT_CHARS])).all()
        assert FIELDS[name].prepare("Am\udce9lie") is not None  # no tokenizer TypeError
    assert Limits().max_text == MAX_TEXT_CHARS  # the API refuses what the others would cut


@pytest.fixture
def fusion(fused):  # noqa: F811
    _, data, run = fused
    return run / "model", sorted((data / "posters").glob("*.png"))[0]


def test_non_utf8_title_is_read_as_replacement_with_a_note(fusion, capsys):
    model, image = fusion
    got, err = answer(capsys, model, image, "--title", "Night of the Dead \udcff")
    assert got["inputs"] == ["poster", "title"]
    assert "note: --title: bytes that are not UTF-8 are read as U+FFFD" in err
    same, _ = answer(capsys, model, image, "--title", "Night of the Dead \ufffd")
    assert same["probabilities"] == got["probabilities"]  # one rule: replacement


def test_a_text_longer_than_the_limit_is_cut_with_a_note(fusion, capsys):
    model, image = fusion
    plot = "A story of comedy. " * (MAX_TEXT_CHARS // 19 + 10)
    got, err = answer(capsys, model, image, "--plot", plot)
    assert f"note: --plot: {len(plot):,} characters, of which the first 100,000 are read" in err
    cut, _ = answer(capsys, model, image, "--plot", plot[:MAX_TEXT_CHARS])
    assert cut["probabilities"] == got["probabilities"]


def test_an_id_in_several_rows_is_merged_by_one_rule_whatever_the_order(fusion, capsys,
                                                                         tmp_path):
    model, image = fusion
    rows = [{"imdb_id": image.stem, "title": "Night of the Dead", "plot": "A story of horror."},
            {"imdb_id": image.stem, "title": "Laugh Out Loud", "plot": None},
            {"imdb_id": image.stem, "title": None, "plot": "A story of horror."}]
    answers = []
    for name, order in (("a.csv", rows), ("b.csv", rows[::-1])):
        pd.DataFrame(order).to_csv(tmp_path / name, index=False)
        got, err = answer(capsys, model, image, "--metadata", tmp_path / name)
        assert (f"note: {name}: 1 id(s) in several rows, merged field by field; 1 field(s) "
                f"whose rows disagree are left out (e.g. {image.stem}: title ") in err
        assert got["inputs"] == ["poster", "plot"]  # the titles disagree: neither is taken
        answers.append(got["probabilities"])
    assert answers[0] == answers[1]


def test_a_table_with_no_usable_column_is_one_line(fusion, capsys, tmp_path):
    model, image = fusion
    table = tmp_path / "meta.csv"
    pd.DataFrame({"imdb_id": [image.stem], "name_of_film": ["x"], "rating": [3]}).to_csv(
        table, index=False)
    code, _, err = run_cli(capsys, ["predict", model, image, "--metadata", table])
    assert code == 2
    assert one_line(err) == (f"error: {table}: no column of title, year, plot (columns: "
                             "imdb_id, name_of_film, rating); name one with --column FIELD=NAME")


def test_column_options_name_the_columns_as_train_s_do(fusion, capsys, tmp_path):
    model, image = fusion
    table = tmp_path / "meta.csv"
    pd.DataFrame({"key": [image.stem, "tt9999"], "name_of_film": ["Night of the Dead", "x"]}
                 ).to_csv(table, index=False)
    got, err = answer(capsys, model, image, "--metadata", table, "--id-column", "key",
                      "--column", "title=name_of_film")
    assert got["inputs"] == ["poster", "title"]
    given, _ = answer(capsys, model, image, "--title", "Night of the Dead")
    assert given["probabilities"] == got["probabilities"]
    for argv, named in (
            (["--metadata", table, "--column", "title=nope"], "(given by --column title=nope)"),
            (["--metadata", table, "--column", "genre=key"], "no input reads a field 'genre'"),
            (["--metadata", table, "--column", "title"], "--column 'title': write FIELD=COLUMN"),
            (["--metadata", table, "--id-column", "nope"], "(given by --id-column)"),
            (["--column", "title=name_of_film"], "--id-column/--column: name the columns of")):
        code, _, err = run_cli(capsys, ["predict", model, image, *argv])
        assert code == 2 and named in one_line(err), (argv, err)


def test_posters_without_a_row_and_fields_the_model_does_not_read_are_noted(capsys, tmp_path):
    model = build_bundle(tmp_path / "model")  # reads the poster only
    images = [tmp_path / f"tt{i}.png" for i in range(3)]
    for image in images:
        Image.fromarray(poster((200, 0, 0))).save(image)
    table = tmp_path / "meta.csv"
    pd.DataFrame({"imdb_id": ["tt0", "tt1"], "title": ["Night of the Dead", None]}).to_csv(
        table, index=False)
    code, out, err = run_cli(capsys, ["predict", model, *images, "--metadata", table, "--json"])
    assert code == 0 and len(out.splitlines()) == 3
    assert "note: meta.csv: no row (or only empty cells) for 2 of 3 posters (e.g. tt1.png)" in err
    assert "note: the model does not read title (it reads poster)" in err


def test_train_merges_an_id_in_several_rows_by_the_same_rule(tmp_path):
    data = colour_dataset(tmp_path / "data", n=9)
    pd.DataFrame([{"imdb_id": "tt0000", "title": "A", "plot": "p"},
                  {"imdb_id": "tt0000", "title": "B", "plot": None},
                  {"imdb_id": "tt0001", "title": "C", "plot": None}]).to_csv(
        data / "movies.csv", index=False)
    ds = load_dataset(data, hash_contents=False)
    rows = ds.frame.set_index("id")
    assert pd.isna(rows.loc["tt0000", "title"]) and rows.loc["tt0000", "plot"] == "p"
    assert rows.loc["tt0001", "title"] == "C"
    assert any(n.startswith("movies.csv: 1 id(s) in several rows, merged field by field; "
                            "1 field(s) whose rows disagree are left out (e.g. tt0000: title "
                            "'A' or 'B')") for n in ds.notes), ds.notes


def test_the_api_takes_the_same_texts(tmp_path):
    from fastapi.testclient import TestClient

    from postergenre.bundle import load_bundle
    from postergenre.serve import create_app

    image = tmp_path / "a.png"
    Image.fromarray(poster((200, 0, 0))).save(image)
    files = {"files": ("a.png", image.read_bytes(), "image/png")}
    with TestClient(create_app(load_bundle(build_bundle(tmp_path / "model")), Limits())) as c:
        assert c.post("/v1/predict", files=files,
                      data={"title": "x" * MAX_TEXT_CHARS}).status_code == 200
        refused = c.post("/v1/predict", files=files, data={"title": "x" * (MAX_TEXT_CHARS + 1)})
        assert refused.status_code == 422 and refused.json()["field"] == "title"
        assert "100000 characters" in refused.json()["error"]
