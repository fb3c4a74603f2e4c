"""What loading a dataset merges, and the notes that say so: genre spellings, duplicate ids."""

from __future__ import annotations

import json

import pandas as pd

from postergenre.cli import main
from postergenre.data.dataset import load_dataset
from postergenre.data.vocab import merge_case_variants

from .conftest import save_image


def _dataset(tmp_path, ids: list[str], genres: list[str]):
    root = tmp_path / "ds"
    for i, id_ in enumerate(dict.fromkeys(ids)):
        save_image(root / f"{id_}.png", seed=i)
    pd.DataFrame({"imdb_id": ids, "genres": genres}).to_csv(root / "genres.csv", index=False)
    return root


def _genres(ds) -> dict[str, list[str]]:
    return dict(zip(ds.frame["id"], ds.frame["genres"], strict=True))


def test_spacing_is_normalised_and_case_variants_merge_into_the_most_frequent(tmp_path):
    root = _dataset(
        tmp_path,
        ["a", "b", "c", "d", "e"],
        ["Sci-Fi|Drama", " sci-fi |Film  Noir", "SCI-FI", "Sci-Fi", "film noir|Drama"],
    )
    ds = load_dataset(root, hash_contents=False)
    assert _genres(ds) == {
        "a": ["Sci-Fi", "Drama"],
        "b": ["Sci-Fi", "Film Noir"],
        "c": ["Sci-Fi"],
        "d": ["Sci-Fi"],
        "e": ["Film Noir", "Drama"],
    }
    assert ds.notes == [
        "genres.csv: genre 'sci-fi', 'SCI-FI' merged into 'Sci-Fi' (same name, other case)",
        "genres.csv: genre 'film noir' merged into 'Film Noir' (same name, other case)",
    ]


def test_case_merge_ties_go_to_the_first_spelling_seen():
    lists, merges = merge_case_variants([["drama"], ["Drama", "drama"], ["Drama"], ["x"]])
    assert lists == [["drama"], ["drama"], ["drama"], ["x"]]
    assert merges == {"drama": ["Drama"]}
    assert merge_case_variants(lists) == (lists, {})  # merging again changes nothing


def test_duplicate_ids_are_united_with_a_note_identical_rows_only_counted(tmp_path):
    root = _dataset(
        tmp_path,
        ["a", "a", "b", "b", "c", "c", "c"],
        ["Drama", "Comedy", "Horror", "Thriller|Horror", "Drama", "Drama", "drama"],
    )
    ds = load_dataset(root, hash_contents=False)
    assert _genres(ds) == {"a": ["Drama", "Comedy"], "b": ["Horror", "Thriller"], "c": ["Drama"]}
    assert ds.notes == [
        "genres.csv: genre 'drama' merged into 'Drama' (same name, other case)",
        "genres.csv: 2 id(s) in several rows with different genres; "
        "genres united (e.g. a: Drama + Comedy)",
    ]
    assert ds.sources["tables"][0]["identical_duplicate_rows"] == 2  # c's second and third rows


def test_clean_table_has_no_notes(tmp_path):
    ds = load_dataset(_dataset(tmp_path, ["a", "b"], ["Drama", "Comedy"]), hash_contents=False)
    assert ds.notes == [] and ds.sources["tables"][0]["identical_duplicate_rows"] == 0


def test_data_check_prints_the_notes(tmp_path, capsys):
    root = _dataset(tmp_path, ["a", "a", "b"], ["Drama", "Comedy", "drama"])
    out = tmp_path / "out"
    assert main(["data", "check", str(root), "--json", "--out", str(out)]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes == [
        "genres.csv: genre 'drama' merged into 'Drama' (same name, other case)",
        "genres.csv: 1 id(s) in several rows with different genres; "
        "genres united (e.g. a: Drama + Comedy)",
    ]
    assert main(["data", "check", str(root), "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "note: genres.csv: genre 'drama' merged into 'Drama'" in printed
    assert "note: genres.csv: 1 id(s) in several rows" in printed
