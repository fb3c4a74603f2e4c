"""Dataset layer: image decoding, table formats, the normalised table, data check."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pandas as pd
import pytest
from PIL import Image

from postergenre.cli import main
from postergenre.data import images
from postergenre.data.check import check_dataset
from postergenre.data.dataset import Columns, load_dataset
from postergenre.data.table import parse_genre_cell
from postergenre.data.vocab import build_vocabulary, multi_hot
from postergenre.errors import UserError

from .conftest import save_image


def _png_with_declared_size(w: int, h: int) -> bytes:
    """A PNG header that declares a huge canvas (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", w, h)  # IHDR width/height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.fixture
def messy(tmp_path):
    """Images in every mode/format plus each kind of bad file."""
    root = tmp_path / "ds"
    p = root / "posters"
    save_image(p / "rgb.jpg")
    save_image(p / "grey.png", mode="L")
    save_image(p / "cmyk.jpg", mode="CMYK")
    save_image(p / "pal.png", mode="P")
    save_image(p / "alpha.webp", mode="RGBA")
    save_image(p / "big.png", size=(900, 1400))
    save_image(p / "dup1.jpg", seed=5)
    (p / "dup2.jpg").write_bytes((p / "dup1.jpg").read_bytes())
    good = (p / "rgb.jpg").read_bytes()
    (p / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (p / "text.jpg").write_text("this is not an image")
    (p / "empty.jpg").write_bytes(b"")
    (p / "bomb.png").write_bytes(_png_with_declared_size(60000, 60000))
    save_image(p / "nolabel.jpg", seed=9)
    (root / "notes.txt").write_text("ignored")
    labelled = [
        "rgb",
        "grey",
        "cmyk",
        "pal",
        "alpha",
        "big",
        "dup1",
        "dup2",
        "truncated",
        "text",
        "empty",
        "bomb",
        "ghost",
    ]
    genres = [
        "Drama|Comedy",
        "Drama",
        "Horror",
        "Comedy",
        "Drama|Horror",
        "Comedy",
        "Drama",
        "Drama",
        "Horror",
        "Comedy",
        "Drama",
        "Comedy",
        "Drama",
    ]
    pd.DataFrame({"imdb_id": labelled, "genres": genres}).to_csv(root / "genres.csv", index=False)
    return root


def test_decode_modes_to_rgb(messy):
    for name in ("rgb.jpg", "grey.png", "cmyk.jpg", "pal.png", "alpha.webp", "big.png"):
        im = images.load(messy / "posters" / name)
        assert im.mode == "RGB" and im.size[0] > 0


@pytest.mark.parametrize(
    "name, reason",
    [
        ("truncated.jpg", "cannot decode"),
        ("text.jpg", "not an image"),
        ("empty.jpg", "empty file"),
        ("bomb.png", "exceeds"),
    ],
)
def test_bad_files_get_a_reason(messy, name, reason):
    digest, error = images.probe(messy / "posters" / name)
    assert error is not None and reason in error


def test_check_reports_everything(messy):
    ds = load_dataset(messy, hash_contents=False)
    r = check_dataset(ds, min_support=1, progress=False)
    assert r["images_found"] == 13
    bad = {c["id"]: c["reason"] for c in r["corrupt"]}
    assert set(bad) == {"truncated", "text", "empty", "bomb"}
    assert r["decodable"] == 9
    assert r["images_without_labels"] == ["nolabel"]
    assert r["labels_without_images"] == ["ghost"]
    assert [g["ids"] for g in r["duplicate_groups"]] == [["dup1", "dup2"]]
    # counts over decodable labelled images only
    assert r["genre_counts"] == {"Drama": 5, "Comedy": 3, "Horror": 2}
    assert r["cooccurrence"]["Drama"]["Comedy"] == 1


def test_check_cli_json_and_chart(messy, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["data", "check", str(messy), "--json", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["decodable"] == 9
    assert (out / "genre_counts.png").stat().st_size > 1000
    assert json.loads((out / "check.json").read_text())["images_found"] == 13


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("Crime|Drama|Thriller", ["Crime", "Drama", "Thriller"]),
        ("Comedy, Family", ["Comedy", "Family"]),
        ('["Action", "Sci-Fi"]', ["Action", "Sci-Fi"]),
        ("['Action', 'Drama']", ["Action", "Drama"]),
        (
            "[{'key': 'Action', 'value': 'Action'}, {'key': 'Comedy', 'value': 'Comedy'}]",
            ["Action", "Comedy"],
        ),
        (["Drama", "Drama"], ["Drama"]),
        ("", []),
        (None, []),
        (float("nan"), []),
    ],
)
def test_parse_genre_cell(cell, expected):
    assert parse_genre_cell(cell) == expected


def _tiny(tmp_path):
    root = tmp_path / "t"
    for i in range(4):
        save_image(root / f"tt{i}.png", seed=i)
    return root


GENRES = [["Drama", "Comedy"], ["Horror"], ["Comedy"], []]


@pytest.mark.parametrize(
    "fmt", ["csv", "tsv", "parquet", "jsonl", "json", "multihot", "ranked", "pylist"]
)
def test_table_formats(tmp_path, fmt):
    root = _tiny(tmp_path)
    ids = [f"tt{i}" for i in range(4)]
    piped = ["|".join(g) for g in GENRES]
    if fmt == "csv":
        pd.DataFrame({"imdb_id": ids, "genres": piped}).to_csv(root / "l.csv", index=False)
    elif fmt == "tsv":
        pd.DataFrame({"id": ids, "genre": [", ".join(g) for g in GENRES]}).to_csv(
            root / "l.tsv", sep="\t", index=False
        )
    elif fmt == "parquet":
        pd.DataFrame({"movie": ids, "genres": GENRES}).to_parquet(root / "l.parquet")
    elif fmt == "jsonl":
        pd.DataFrame({"id": ids, "genres": GENRES}).to_json(
            root / "l.jsonl", orient="records", lines=True
        )
    elif fmt == "json":
        pd.DataFrame({"id": ids, "labels": piped}).to_json(root / "l.json", orient="records")
    elif fmt == "multihot":
        y = multi_hot(GENRES, ["Drama", "Comedy", "Horror"])
        df = pd.DataFrame(y, columns=["Drama", "Comedy", "Horror"])
        df.insert(0, "Id", [f"{i}.jpg" for i in ids])
        df.to_csv(root / "l.csv", index=False)
    elif fmt == "ranked":
        padded = [g + [None] * (3 - len(g)) for g in GENRES]
        df = pd.DataFrame(padded, columns=["Genre_1", "Genre_2", "Genre_3"])
        df.insert(0, "id", ids)
        df.to_csv(root / "l.csv", index=False)
    elif fmt == "pylist":
        pd.DataFrame({"id": ids, "genres": [str(g) for g in GENRES]}).to_csv(
            root / "l.csv", index=False
        )
    ds = load_dataset(root)
    got = dict(zip(ds.frame["id"], ds.frame["genres"], strict=True))
    assert {k: sorted(v) for k, v in got.items()} == {
        i: sorted(g) for i, g in zip(ids, GENRES, strict=True)
    }
    assert ds.frame["sha256"].notna().all()


def test_metadata_table_is_joined(tmp_path):
    root = _tiny(tmp_path)
    ids = [f"tt{i}" for i in range(4)]
    pd.DataFrame({"imdb_id": ids, "genres": ["Drama"] * 4}).to_csv(root / "genres.csv", index=False)
    pd.DataFrame(
        {"imdb_id": ids[:2], "title": ["A", "B"], "year": [1990, 2001], "plot": ["x", None]}
    ).to_csv(root / "movies.csv", index=False)
    f = load_dataset(root).frame.set_index("id")
    assert f.loc["tt1", "title"] == "B" and f.loc["tt1", "year"] == 2001
    assert pd.isna(f.loc["tt3", "title"])


def test_explicit_columns_and_errors(tmp_path):
    root = _tiny(tmp_path)
    pd.DataFrame({"key": [f"tt{i}" for i in range(4)], "g": ["A"] * 4}).to_csv(
        root / "l.csv", index=False
    )
    ds = load_dataset(root, columns=Columns(id="key", genres="g"))
    assert ds.labelled["genres"].tolist() == [["A"]] * 4
    with pytest.raises(UserError, match="no column 'nope'"):
        load_dataset(root, columns=Columns(id="nope"))
    with pytest.raises(UserError, match="no such folder"):
        load_dataset(tmp_path / "missing")


def test_seed_imdb_table_format(tmp_path):
    """The prototype's IMDb-API export: ``id``, ``genres`` like ``Comedy, Family``."""
    from .conftest import SHARED_DATA

    src = SHARED_DATA / "seed-imdb-api" / "movie_df_clean.csv"
    if not src.exists():
        pytest.skip("seed table not available")
    table = pd.read_csv(src).head(5)
    root = tmp_path / "seed"
    for i in table["id"]:
        save_image(root / f"{i}.jpg")
    table.to_csv(root / "movie_df_clean.csv", index=False)
    ds = load_dataset(root)
    assert ds.sources["tables"][0]["id_column"] == "id"
    first = ds.frame.set_index("id").loc[table["id"][0]]
    assert first["genres"] == [g.strip() for g in table["genres"][0].split(",")]
    assert first["title"] == table["title"][0] and first["plot"] == table["plot"][0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "check", "{tmp}/missing"], "no such folder"),
        (["data", "check", "{root}", "--id-column", "nope"], "no column 'nope'"),
        (["data", "check", "{root}", "--genres-column", "nope"], "no column 'nope'"),
        (["data", "check", "{root}", "--no-such-flag"], "No such option"),
        (["data", "split", "{noid}"], "no id column"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    root = _tiny(tmp_path)
    pd.DataFrame({"imdb_id": [f"tt{i}" for i in range(4)], "genres": ["A"] * 4}).to_csv(
        root / "genres.csv", index=False
    )
    noid = tmp_path / "noid"
    noid.mkdir()
    pd.DataFrame({"x": [1], "genres": ["A"]}).to_csv(noid / "l.csv", index=False)
    argv = [a.format(tmp=tmp_path, root=root, noid=noid) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", "genres.csv: empty table (no columns)"),
        ("header only", "genres.csv: empty table (a header but no rows)"),
        ("binary junk", "genres.csv: not a table (binary content)"),
        ("utf-16", "genres.csv: UTF-16 text; save it as UTF-8"),
        ("latin-1", "genres.csv: not UTF-8 text"),
        ("no matching id", "genres.csv: none of its 2 ids matches an image file name in"),
        ("labels is a folder", "labels.csv: is a folder, not a table file"),
        ("nothing decodes", "{root}: none of the 4 image files decodes (e.g. tt0.png: not an"),
        ("no images", "{root}: no image files (none named as a format"),
    ],
)
def test_data_check_user_errors(tmp_path, capsys, case, message):
    """Broken user input ends as one line naming the file and the problem, exit code 2."""
    root = _tiny(tmp_path)
    table = root / "genres.csv"
    ids = [f"tt{i}" for i in range(4)]
    pd.DataFrame({"imdb_id": ids, "genres": ["Drama"] * 4}).to_csv(table, index=False)
    argv = ["data", "check", str(root), "--json", "--out", str(tmp_path / "out")]
    if case == "empty":
        table.write_bytes(b"")
    elif case == "header only":
        table.write_text("imdb_id,genres\n")
    elif case == "binary junk":
        table.write_bytes((root / "tt0.png").read_bytes())  # a poster saved as the table
    elif case == "utf-16":
        table.write_text("imdb_id,genres\ntt0,Drama\n", encoding="utf-16")
    elif case == "latin-1":
        table.write_text("imdb_id,genres\ntt0,Comédie\n", encoding="latin-1")
    elif case == "no matching id":
        pd.DataFrame({"imdb_id": ["a", "b"], "genres": ["Drama"] * 2}).to_csv(table, index=False)
    elif case == "labels is a folder":
        (root / "labels.csv").mkdir()
        argv += ["--labels", str(root / "labels.csv")]
    elif case == "nothing decodes":
        for p in root.glob("*.png"):
            p.write_text("not a poster")
    elif case == "no images":
        for p in root.glob("*.png"):
            p.unlink()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: ") and message.format(root=root) in err


def test_vocabulary_min_support():
    v = build_vocabulary([["A", "B"], ["A"], ["A", "C"], ["B"]], min_support=2)
    assert v.genres == ["A", "B"] and v.dropped == {"C": 1}
    assert multi_hot([["A", "C"]], v.genres).tolist() == [[1, 0]]
    assert v.from_json(v.to_json()) == v


@pytest.mark.slow
def test_check_shared_posters(shared_posters, tmp_path, capsys):
    assert main(["data", "check", str(shared_posters), "--json", "--out", str(tmp_path)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["images_found"] == 24094 and len(r["images_without_labels"]) == 80
    assert len(r["duplicate_groups"]) == 69 and r["duplicate_files"] == 158
    assert r["seconds"] < 120
